"""The free-text grader for why-skip-helps: agreement with the teacher's labels, bad inputs,
non-answers, misconception detection, confidence and review, learning from teacher-labelled
exemplars, and the interface grader.engine relies on.

The rubric's own behaviour is tested on its reading alone (no exemplars, nothing provisional);
confidence, release and learning with the exemplars the exercise ships and a teacher adds."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.exercise import Exercise, load_exercise, load_misconceptions
from grader.freetext import REVIEW_NOTICE, Exemplar, calibrate_threshold, grade_freetext
from grader.freetext import grade as grade_with_exemplars
from grader.freetext.calibrate import Trial, leave_one_out, released_stats
from grader.freetext.exemplars import ExemplarBank, exemplar_from_json
from grader.freetext.grade import exemplar_bank, read_answer
from grader.freetext.model import get_model
from grader.freetext.rubric import load_rubric
from grader.freetext.text import normalise
from grader.results import GradeResult, Outcome

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "exercises" / "why-skip-helps"
CALIBRATION = [json.loads(line) for line in (FOLDER / "calibration.jsonl").read_text().splitlines() if line.strip()]
TRAIN = [r for r in CALIBRATION if r["split"] == "train"]  # tuned on
HELDOUT = [r for r in CALIBRATION if r["split"] == "heldout"]  # set aside before any tuning
FRESH = [r for r in CALIBRATION if r["split"] == "fresh"]  # written after tuning, as a second check


@pytest.fixture(scope="module")
def exercise() -> Exercise:
    return load_exercise(FOLDER)


def grade(exercise: Exercise, text: str | bytes) -> GradeResult:
    """The rubric's reading alone: no exemplars, never provisional."""
    return grade_with_exemplars(text, exercise, include_seed=False, threshold=0.0)


@pytest.fixture(scope="module")
def graded(exercise: Exercise) -> dict[str, GradeResult]:
    """Every calibration answer graded once by the rubric (the model loads once for the whole module)."""
    return {r["id"]: grade(exercise, r["text"]) for r in CALIBRATION}


def band(result: GradeResult) -> str:
    return str(result.extra["band"])


# ---- the exercise and its data -------------------------------------------------------------------


def test_exercise_folder_is_valid(exercise: Exercise) -> None:
    assert exercise.kind == "freetext" and exercise.slug == "why-skip-helps"
    assert exercise.max_score == 10 and exercise.max_chars == 2000
    assert "why can adding a residual block" in exercise.prompt_markdown


def test_calibration_set_is_big_varied_and_split_a_third() -> None:
    assert len(TRAIN) + len(HELDOUT) >= 60
    assert len(HELDOUT) >= 20 and len(HELDOUT) >= (len(TRAIN) + len(HELDOUT)) // 3
    assert len(TRAIN) + len(HELDOUT) + len(FRESH) == len(CALIBRATION)
    for split in ("train", "heldout", "fresh"):
        bands = {r["band"] for r in CALIBRATION if r["split"] == split}
        assert bands == {"full", "partial", "none"}, split
    assert len({r["id"] for r in CALIBRATION}) == len(CALIBRATION)


def test_every_misconception_id_used_exists_in_the_catalogue(exercise: Exercise) -> None:
    catalogue = load_misconceptions(ROOT / "exercises" / "misconceptions.toml")
    rubric = load_rubric(exercise)  # refuses unknown ids itself; checked here for the labels too
    assert {d.id for d in rubric.detectors} <= set(catalogue)
    assert {m for r in CALIBRATION for m in r["misconceptions"]} <= set(catalogue)
    concept_ids = {c.id for c in rubric.concepts}
    assert {c for r in CALIBRATION for c in r["concepts"]} <= concept_ids


# ---- agreement with the teacher --------------------------------------------------------------------


def test_reference_answer_scores_full_marks(exercise: Exercise) -> None:
    result = grade(exercise, (FOLDER / "solution.md").read_bytes())
    assert result.status == "graded" and result.outcome is Outcome.OK
    assert result.full_marks and result.score == 10
    assert result.misconceptions == []
    assert all(t.status == "passed" for t in result.tests)


def test_heldout_band_agreement_meets_target(graded: dict[str, GradeResult]) -> None:
    agree = sum(band(graded[r["id"]]) == r["band"] for r in HELDOUT)
    misses = [(r["id"], r["band"], band(graded[r["id"]])) for r in HELDOUT if band(graded[r["id"]]) != r["band"]]
    assert agree / len(HELDOUT) >= 0.85, misses


def test_no_credit_answer_never_gets_full_credit(graded: dict[str, GradeResult]) -> None:
    wrong = [r["id"] for r in CALIBRATION if r["band"] == "none" and band(graded[r["id"]]) == "full"]
    assert wrong == []


def test_answer_with_a_labelled_misconception_never_gets_full_credit(graded: dict[str, GradeResult]) -> None:
    wrong = [r["id"] for r in CALIBRATION if r["misconceptions"] and band(graded[r["id"]]) == "full"]
    assert wrong == []


def test_score_always_lands_in_its_band(graded: dict[str, GradeResult]) -> None:
    for rid, result in graded.items():
        fraction = result.score / result.max_score
        expected = "full" if fraction >= 0.75 else "partial" if fraction >= 0.25 else "none"
        assert band(result) == expected, rid
        assert result.output.startswith(
            {"full": "Full credit", "partial": "Partial credit", "none": "No credit"}[expected]
        ), rid
        assert (result.outcome is Outcome.OK) == result.full_marks, rid


# ---- bad input: a graded 0 with a clear message, never an exception ----------------------------


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"\xff\xfe identity \x80", "UTF-8"),
        (b"", "empty"),
        (b"   \n\t  ", "empty"),
        (("The identity is easy. " * 120).encode(), "limit is 2,000"),
        (b"binary\x00data", "binary"),
    ],
)
def test_unreadable_or_oversized_input_is_rejected_with_a_message(
    exercise: Exercise, payload: bytes, words: str
) -> None:
    result = grade(exercise, payload)
    assert result.status == "graded" and result.outcome is Outcome.REJECTED
    assert result.score == 0 and words in result.output


def test_exactly_max_chars_is_accepted(exercise: Exercise) -> None:
    text = ("A residual block with zero weights outputs a[l], so it cannot hurt. " * 40)[:2000]
    assert grade(exercise, text).outcome is not Outcome.REJECTED


CODE = """class IdentityBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(x)) + x)  # identity shortcut, so it cannot hurt
"""


@pytest.mark.parametrize(
    "text, words",
    [
        (CODE, "program code"),
        ("Why can a residual block not make the network worse? Is it because of the identity?", "question"),
        (
            "Is it because W and b go to zero so the block becomes the identity and can't hurt, and the gradient "
            "flows through the shortcut?",
            "question",
        ),
        ("Great lecture, thank you! I loved this week of the course.", "kind words"),
        (
            "identity, weight decay, gradient flow, shortcut, degradation, ReLU, a[l+2] = a[l], plain network",
            "keywords",
        ),
        (
            "The residual block is easy. The identity is zero. The network is worse. The gradient is a shortcut. "
            "The plain network is hard.",
            "never connects",
        ),
        ("a[l+2] = g(z[l+2] + a[l])", "too short"),
        (
            "My favourite recipe is pasta with tomato sauce: boil the pasta, fry garlic in olive oil, add the "
            "tomatoes and let it simmer for twenty minutes.",
            "not seem to be about residual",
        ),
    ],
)
def test_non_answers_get_zero_and_say_why(exercise: Exercise, text: str, words: str) -> None:
    result = grade(exercise, text)
    assert result.status == "graded" and result.outcome is Outcome.WRONG
    assert result.score == 0 and result.output.startswith("No credit")
    assert words in result.output
    assert len(result.tests) == 5 and all(t.score == 0 for t in result.tests)


def test_praise_and_questions_around_a_real_answer_are_ignored_not_punished(exercise: Exercise) -> None:
    answer = (
        "Great lecture! A residual block can learn the identity easily: with W[l+2] = 0 and b[l+2] = 0 it "
        "outputs a[l]. So adding it can't make the network worse, at worst it's the identity. Plain "
        "networks can't learn the identity easily, so they get worse with depth. Did I get it right?"
    )
    result = grade(exercise, answer)
    assert band(result) == "full"
    assert "not graded" in result.output


# ---- right words, wrong logic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Adding a residual block can't make the network worse because the input simply skips the layers, so "
            "the block's layers are never really used. Most layers are skipped, so the network is effectively "
            "shallow.",
            {"input_skips_layers"},
        ),
        (
            "A residual block learns the identity by setting its weights to 1, so the input is copied and adding "
            "it cannot make the network worse.",
            {"identity_needs_unit_weights"},
        ),
        (
            "Because ReLU makes z[l+2] non-negative, a[l+2] is always equal to z[l+2], so the block cannot make "
            "things worse.",
            {"relu_makes_z_nonnegative"},
        ),
        (
            "ResNets only work because of weight decay: it pushes the weights to zero, which makes each block "
            "the identity, so extra blocks don't hurt.",
            {"needs_weight_decay"},
        ),
        (
            "Skip connections are a form of regularisation, like dropout, so they stop deep networks from "
            "overfitting and we can use more layers.",
            {"skip_is_regulariser"},
        ),
        (
            "The output is a[l+2] = g(z[l+2]) + a[l], so the shortcut is added after the ReLU and zero weights "
            "give back a[l], which is why the block cannot hurt.",
            {"shortcut_after_final_relu"},
        ),
        (
            "Residual blocks find it hard to learn the identity, while plain layers learn it easily, which is "
            "why deep plain networks are fine.",
            {"plain_identity_easy"},
        ),
        (
            "Deeper networks are always better because they have more parameters, so adding residual blocks "
            "makes the network better.",
            {"deeper_always_better"},
        ),
        (
            "Gradients cannot flow through the shortcut, so the block is frozen and never changes, which is why "
            "it cannot make the network worse.",
            {"gradient_blocked_by_shortcut"},
        ),
        (
            "A residual block can make a network much worse if it learns bad weights, because the shortcut adds "
            "noise from earlier layers.",
            {"skip_can_hurt"},
        ),
        (
            "Skip connections are a trick that only works for convolutional networks; in fully connected networks "
            "they do not help, so the gradients vanish there.",
            {"skips_only_for_cnns"},
        ),
    ],
)
def test_targeted_misconceptions_are_detected_and_block_full_credit(
    exercise: Exercise, text: str, expected: set[str]
) -> None:
    result = grade(exercise, text)
    assert expected <= set(result.misconceptions), result.misconceptions
    assert band(result) != "full"
    flagged = {m for t in result.tests for m in t.misconceptions}
    assert expected <= flagged  # each finding is also a visible check that explains it


@pytest.mark.parametrize(
    "text",
    [
        "Skip connections are not a regulariser: the training error of plain nets rises, which is not overfitting.",
        "It is not overfitting, because the training error goes up when we add plain layers.",
        "In plain networks gradients cannot pass through many layers without vanishing, so they are hard to train.",
        "In theory a deeper network should always be at least as good as a shallower one, since layers could copy.",
        "A plain block would need W = I exactly, which gradient descent rarely finds.",
    ],
)
def test_correct_statements_with_negations_are_not_flagged(exercise: Exercise, text: str) -> None:
    assert grade(exercise, text).misconceptions == []


def test_words_inside_other_words_are_not_cues(exercise: Exercise) -> None:
    # 'normal' in 'normalization' is not a plain network; 'regular' in 'regularisation' neither.
    result = grade(
        exercise,
        "Batch normalization normalizes each mini-batch to zero mean and unit variance, "
        "which stabilizes training and allows higher learning rates.",
    )
    assert result.score == 0 and result.extra["concepts"] == []


def test_a_denied_concept_earns_nothing(exercise: Exercise) -> None:
    result = grade(
        exercise,
        "A residual block cannot easily learn the identity, so adding it may hurt; "
        "plain networks learn the identity without problems.",
    )
    assert result.score == 0 and "plain_identity_easy" in result.misconceptions
    result = grade(
        exercise,
        "Skip connections do not help the gradients at all; they only make the network bigger, so training is slower.",
    )
    assert "gradient_flow" not in result.extra["concepts"]


def test_a_full_answer_stated_with_confidence_and_a_wrong_mechanism_is_not_full(exercise: Exercise) -> None:
    result = grade(
        exercise,
        "A residual block can learn the identity easily: its weights just need to be "
        "one so the input is copied. So adding a block can't make things worse, and "
        "plain deep networks get a higher training error because they cannot learn "
        "the identity. Gradients also flow through the shortcut, so we can go deeper.",
    )
    assert band(result) == "partial"
    assert "identity_easy" not in result.extra["concepts"]


# ---- the result's shape ----------------------------------------------------------------------------


def test_one_visible_check_per_concept_and_feedback_in_words(exercise: Exercise) -> None:
    result = grade(
        exercise,
        "Skip connections let the gradient flow directly back to the earlier layers, so it "
        "does not vanish. That is why we can train much deeper networks.",
    )
    assert band(result) == "partial" and result.score == 2.5
    concepts = [t for t in result.tests if t.max_score > 0]
    assert len(concepts) == 5 and sum(t.max_score for t in concepts) == 10
    assert all(t.visibility == "visible" for t in result.tests)
    passed = [t for t in concepts if t.status == "passed"]
    assert len(passed) == 1 and "gradient" in passed[0].name.lower() and passed[0].score == 2.0
    assert "Still missing" in result.output and "Your answer explains" in result.output
    assert "W[l+2]" in result.output  # the missing identity argument is spelled out
    json.dumps(result.to_json())  # Gradescope-shaped JSON


# ---- model lifecycle ---------------------------------------------------------------------------------


def test_model_is_loaded_once_and_shared(exercise: Exercise) -> None:
    assert get_model() is get_model()


def test_concurrent_grading_gives_the_same_results(exercise: Exercise) -> None:
    texts = [r["text"] for r in CALIBRATION[:12]]
    alone = [grade(exercise, t).score for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda t: grade(exercise, t).score, texts))
    assert together == alone


def test_grader_package_never_imports_django() -> None:
    code = (
        "import sys; import grader.freetext, grader.freetext.analyse, grader.freetext.feedback; "
        "print('django' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- confidence, review and learning from the teacher -------------------------------------------------

# The seed exemplars. answers_heldback.jsonl was held back until its figure was reported, then merged
# into development (2026-12-06); answers_fresh.jsonl is held back now and deliberately not read by any
# test: it measures generalisation in bench/freetext_agreement.py only.
DEV_FILES = ("calibration.jsonl", "answers_dev.jsonl", "answers_heldback.jsonl")


def labelled(name: str) -> list[Exemplar]:
    return [exemplar_from_json(json.loads(line)) for line in (FOLDER / name).read_text().splitlines() if line.strip()]


def test_development_answers_are_labelled_in_every_band_with_scores_inside_them() -> None:
    rows = [
        json.loads(line)
        for name in ("answers_dev.jsonl", "answers_heldback.jsonl")
        for line in (FOLDER / name).read_text().splitlines()
        if line.strip()
    ]
    assert len(rows) >= 150 and sum(1 for r in rows if r["id"].startswith("h")) >= 50
    for r in rows:
        fraction = r["score"] / 10
        assert r["band"] == ("full" if fraction >= 0.75 else "partial" if fraction >= 0.25 else "none"), r["id"]
    assert {r["band"] for r in rows} == {"full", "partial", "none"}


def test_seed_exemplars_are_the_development_answers_only(exercise: Exercise) -> None:
    assert load_rubric(exercise).review.seed_exemplars == DEV_FILES
    assert "answers_fresh.jsonl" not in DEV_FILES and (FOLDER / "answers_fresh.jsonl").exists()


@pytest.fixture(scope="module")
def leave_one_out_trials(exercise: Exercise) -> list[Trial]:
    """Every development answer graded with the shipped exemplars minus itself (never tested on an
    answer the grader learned from)."""
    rubric = load_rubric(exercise)
    dev = [e for name in DEV_FILES for e in labelled(name)]
    bank = exemplar_bank(exercise, rubric)
    evidence = [read_answer(normalise(e.text.strip()), rubric, exercise.max_score) for e in dev]
    decisions = leave_one_out(evidence, [e.band for e in dev], bank, exercise)
    return [Trial(d.confidence, d.band, e.band) for d, e in zip(decisions, dev)]


def test_no_grade_two_bands_off_is_released_on_the_development_set(
    exercise: Exercise, leave_one_out_trials: list[Trial]
) -> None:
    threshold = load_rubric(exercise).review.confidence_threshold
    released, correct, two_off = released_stats(leave_one_out_trials, threshold)
    assert two_off == 0
    assert correct / released >= 0.95  # the target precision of released grades
    assert 1 - released / len(leave_one_out_trials) <= 0.25  # at most a quarter sent to review


def test_confidence_ranks_wrong_grades_below_right_ones(leave_one_out_trials: list[Trial]) -> None:
    right = [t.confidence for t in leave_one_out_trials if t.correct]
    wrong = [t.confidence for t in leave_one_out_trials if not t.correct]
    assert wrong and sum(wrong) / len(wrong) < sum(right) / len(right) - 0.1
    assert all(0.0 <= t.confidence <= 1.0 for t in leave_one_out_trials)


def test_every_result_carries_confidence_and_provisional(exercise: Exercise) -> None:
    for payload in (
        b"",
        (FOLDER / "solution.md").read_bytes(),
        CODE.encode(),
        b"Residual blocks are good because they help the network somehow.",
    ):
        data = grade_freetext(exercise, payload).to_json()
        assert 0.0 <= data["confidence"] <= 1.0 and isinstance(data["provisional"], bool)
        assert GradeResult.from_json(data).confidence == data["confidence"]
    rejected = grade_freetext(exercise, b"")
    assert rejected.confidence == 1.0 and not rejected.provisional  # certain: nothing to review


def test_a_provisional_grade_says_it_is_being_reviewed_and_what_the_machine_found(exercise: Exercise) -> None:
    answer = "Residual blocks let the network keep what it had and add a bit more, so it stays fine."
    result = grade_with_exemplars(answer, exercise, threshold=1.0)  # everything below 100% waits
    assert result.provisional and result.output.startswith(REVIEW_NOTICE)
    assert "What the grader found" in result.output
    assert "Still missing" in result.output or "What the answer needs" in result.output
    released = grade_with_exemplars(answer, exercise, threshold=0.0)
    assert not released.provisional and REVIEW_NOTICE not in released.output
    assert released.score == result.score  # the proposal is the same grade, only not released


TEACHER_GRADED = (
    "Honestly the trick is that the block only learns a correction F(x) on top of x, and a "
    "correction of zero costs nothing to learn, so stacking more of them is harmless."
)
NEW_SIMILAR = (
    "The trick is that each block only learns a correction F(x) on top of x; a zero correction "
    "costs nothing to learn, so stacking more blocks is harmless."
)


def test_a_teacher_label_makes_a_similar_new_answer_get_the_teachers_band(exercise: Exercise) -> None:
    before = grade_with_exemplars(NEW_SIMILAR, exercise)
    assert before.extra["band"] == "partial"
    teacher = [Exemplar(TEACHER_GRADED, "full", 8.0)]
    after = grade_with_exemplars(NEW_SIMILAR, exercise, teacher)
    assert after.extra["band"] == "full" and after.score == 8.0 and after.extra["followed"] == "exemplars"
    # Released: the teacher's near-identical label outweighs the rubric, though the rubric's other
    # reading (partial) keeps the confidence below what two agreeing signals give (disagreement_factor).
    assert not after.provisional and after.confidence is not None and after.confidence >= after.extra["threshold"]
    assert after.extra["neighbours"][0]["source"] == "teacher"
    assert "graded full credit" in after.output
    # An unrelated answer is not pulled along by that label.
    far = grade_with_exemplars(
        "Skip connections let the gradient flow straight back to the early layers, so it "
        "does not vanish in very deep networks.",
        exercise,
        teacher,
    )
    assert far.extra["band"] == "partial" and far.extra["followed"] == "rubric"


def test_changing_a_decision_replaces_the_earlier_label_of_the_same_answer(exercise: Exercise) -> None:
    bank = ExemplarBank.build([Exemplar(TEACHER_GRADED, "full", 8.0), Exemplar(TEACHER_GRADED, "none", 0.0)], 10)
    assert len(bank) == 1 and bank.exemplars[0].band == "none"
    changed = grade_with_exemplars(
        NEW_SIMILAR, exercise, [Exemplar(TEACHER_GRADED, "full", 8.0), Exemplar(TEACHER_GRADED, "partial", 4.0)]
    )
    assert changed.extra["band"] == "partial"


def test_calibrating_the_threshold_from_teacher_labels(exercise: Exercise) -> None:
    dev = labelled("answers_dev.jsonl")
    few = calibrate_threshold(dev[:5], exercise)
    assert few == load_rubric(exercise).review.confidence_threshold  # too few labels to say anything
    strict = calibrate_threshold(dev, exercise, target_precision=1.0)
    lenient = calibrate_threshold(dev, exercise, target_precision=0.5)
    assert 0.0 <= lenient <= strict <= 1.0


def test_a_calibration_reports_what_the_threshold_rests_on(exercise: Exercise) -> None:
    from grader.freetext import calibrate

    dev = labelled("answers_dev.jsonl")
    few = calibrate(dev[:5], exercise)
    assert few.threshold == load_rubric(exercise).review.confidence_threshold and "needed" in few.reason
    assert few.labels == 5 and few.released == 0
    found = calibrate(dev, exercise)
    assert found.labels == len(dev) and found.correct <= found.released <= found.labels
    assert found.two_bands_off == 0 and found.reason == "calibrated"
    assert found.vouched_precision >= found.target_precision
    assert found.threshold == calibrate_threshold(dev, exercise)


def test_rubric_and_exemplars_that_disagree_lower_the_confidence(exercise: Exercise) -> None:
    """The same answer, the same winning band: less confident when the nearest labelled answers'
    own majority is another band than the rubric's (disagreement_factor)."""
    import dataclasses

    from grader.freetext.confidence import decide

    rubric = load_rubric(exercise)
    text = normalise((FOLDER / "solution.md").read_text().strip())
    ev = read_answer(text, rubric, exercise.max_score)
    assert ev.rubric_band == "full"
    far = ExemplarBank.build([Exemplar("Thanks, great lecture, see you next week!", "none", 0.0)], exercise.max_score)
    near = ExemplarBank.build([Exemplar(text + " That is all.", "partial", 5.0)], exercise.max_score)
    args = (ev.analysis, ev.rubric_score, ev.rubric_band)
    agree = decide(*args, far, rubric.review, rubric.scoring, exercise.max_score)
    plain = dataclasses.replace(rubric.review, disagreement_factor=1.0)
    undamped = decide(*args, near, plain, rubric.scoring, exercise.max_score)
    damped = decide(*args, near, rubric.review, rubric.scoring, exercise.max_score)
    assert damped.band == undamped.band
    assert damped.confidence == pytest.approx(undamped.confidence * rubric.review.disagreement_factor)
    assert agree.confidence > damped.confidence


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"text": "x", "band": "excellent"}, "band"),
        ({"text": "", "band": "full"}, "text"),
        ({"text": "x", "band": "full", "score": -1}, "score"),
    ],
)
def test_malformed_exemplars_are_refused_with_a_reason(raw: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        exemplar_from_json(raw)


def test_cli_prints_confidence_and_provisional(tmp_path: Path) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_text((FOLDER / "solution.md").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(FOLDER), str(answer), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["score"] == 10 and data["provisional"] is False and data["confidence"] >= 0.8
