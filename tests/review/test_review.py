"""The free-text review queue (courseapp.review): provisional grades wait, are grouped by meaning,
one teacher decision grades a group through the override service (audit trail), becomes an
exemplar, tells the gradebook/LTI (final_grade_changed), and the next similar answer is graded
automatically with the teacher's band. Provisional grades are never exported as final."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from courseapp.models import (
    AuditEntry,
    Course,
    Enrolment,
    Exercise,
    ExercisePolicy,
    GradeOverride,
    GradingJob,
    Submission,
)
from courseapp.review import services
from courseapp.review.models import Calibration, Exemplar, JobStatus, RegradeReport, ReviewSettings
from courseapp import selectors_gradebook as gradebook
from courseapp.services import exercise_sync
from courseapp.services.grader_runtime import revision_folder
from courseapp.services.grading import grading_job_record
from courseapp.signals import final_grade_changed
from tests.conftest import EXERCISES, StandInGrader

pytestmark = pytest.mark.django_db

# Three students write much the same thing in their own words; the rubric reads none of it.
SIMILAR = [
    (
        "Honestly the trick is that the block only learns a correction F(x) on top of x, and a correction of zero "
        "costs nothing to learn, so stacking more of them is harmless."
    ),
    (
        "The trick is that each block only learns a correction F(x) on top of x; a zero correction costs nothing to "
        "learn, so stacking more blocks is harmless."
    ),
    (
        "the block just learns a correction F(x) on top of x, and a zero correction costs nothing, so stacking "
        "more blocks is harmless"
    ),
]
LATER = (
    "The trick: each block only learns a correction F(x) on top of x, a zero correction costs nothing "
    "to learn, so stacking many more blocks is harmless."
)
OTHER = "Skip connections are a kind of regularisation that stops very deep networks from overfitting."


@pytest.fixture(autouse=True)
def review_tasks(monkeypatch, settings) -> list[tuple[str, int]]:
    """Review tasks are recorded (name, row id), not sent: a test runs them by calling the service
    the task calls (courseapp.review.tasks). Every other task goes out as usual."""
    from courseapp.celery import app

    sent: list[tuple[str, int]] = []
    real_send_task = app.send_task

    def send_task(name, args=None, kwargs=None, **options):
        if not name.startswith("review."):
            return real_send_task(name, args=args, kwargs=kwargs, **options)
        assert options.get("queue") == settings.REVIEW_TASK_QUEUE and options.get("priority") == 0
        sent.append((name, args[0]))
        return None

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


@pytest.fixture
def course(settings, tmp_path):
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(EXERCISES / "why-skip-helps", root / "why-skip-helps")
    settings.EXERCISES_DIR = root
    settings.EXERCISE_CACHE_DIR = tmp_path / "cache"
    exercise_sync(root, grader=StandInGrader())
    course = Course.objects.get(slug=settings.COURSE_SLUG)
    User = get_user_model()
    prof = User.objects.create_user("prof", password="pw-prof-1")
    Enrolment.objects.create(user=prof, course=course, role=Enrolment.Role.INSTRUCTOR)
    students = []
    for name in ("ana", "ben", "cai", "dee", "eve"):
        user = User.objects.create_user(name, password=f"pw-{name}-1")
        Enrolment.objects.create(user=user, course=course)
        students.append(user)
    return course, Exercise.objects.get(course=course, slug="why-skip-helps"), prof, students


def submit_and_grade(user, exercise: Exercise, text: str, **grade_args) -> Submission:
    """What the worker does for a free-text answer: the real grader with the revision's exemplars and
    threshold (courseapp.review.services.grading_inputs), the result stored as the worker stores it."""
    from grader.exercise import load_exercise
    from grader.freetext import grade

    revision = exercise.current_revision
    spec = load_exercise(revision_folder(revision))
    result = grade(text, spec, **{**services.grading_inputs(revision), **grade_args})
    sub = Submission.objects.create(user=user, revision=revision, source=text)
    job = GradingJob.objects.create(submission=sub, revision=revision, status=GradingJob.Status.RUNNING, attempts=1)
    grading_job_record(job.pk, result)
    return sub


def final_cells(course: Course, exercise: Exercise) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(gradebook.gradebook_csv(course, "final"))))
    col = next(i for i, h in enumerate(rows[0]) if "why-skip-helps" in h or exercise.title in h)
    return {r[0]: r[col] for r in rows[1:] if r and r[0] not in ("Points Possible", "")}


def test_a_group_decision_grades_everyone_in_it_and_the_grader_learns(course, django_capture_on_commit_callbacks):
    _, exercise, prof, students = course
    # A threshold of 1: every grade waits for review (the queue is what is under test here).
    subs = [submit_and_grade(s, exercise, t, threshold=1.0) for s, t in zip(students, [*SIMILAR, OTHER])]
    assert all(s.current_result.extra["provisional"] for s in subs)
    assert len(services.pending(exercise)) == 4

    groups = services.review_groups(exercise)
    assert [g.size for g in groups] == [3, 1]  # the three similar answers together, largest first
    assert {s.pk for s in groups[0].submissions} == {s.pk for s in subs[:3]}

    sent: list[dict] = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    final_grade_changed.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.review_decide(
                actor=prof,
                exercise=exercise,
                submission_ids=[s.pk for s in groups[0].submissions],
                band="full",
                score=8.0,
                comment="Right idea: the block learns a correction.",
            )
    finally:
        final_grade_changed.disconnect(receiver)

    reviewed = [k for k in sent if k["reason"] == "review"]
    assert sorted(k["user_id"] for k in reviewed) == sorted(s.user_id for s in subs[:3])
    assert {k["exercise_id"] for k in reviewed} == {exercise.pk}
    assert GradeOverride.objects.filter(submission__in=subs[:3], score=8.0).count() == 3
    assert AuditEntry.objects.filter(action="override", reason__startswith="free-text review: full").count() == 3
    assert Exemplar.objects.filter(revision=exercise.current_revision, band="full", score=8.0).count() == 3
    assert [s.pk for s in services.pending(exercise)] == [subs[3].pk]  # only the other answer still waits

    # The next similar answer is graded by the machine with the teacher's band, released at once.
    later = submit_and_grade(students[4], exercise, LATER)
    extra = later.current_result.extra
    assert extra["band"] == "full" and extra["provisional"] is False and extra["followed"] == "exemplars"
    assert later.current_result.score == 8.0


def test_changing_a_decision_updates_the_exemplar(course):
    _, exercise, prof, students = course
    sub = submit_and_grade(students[0], exercise, SIMILAR[0], threshold=1.0)
    services.review_decide(actor=prof, exercise=exercise, submission_ids=[sub.pk], band="full", score=8.0)
    services.review_decide(actor=prof, exercise=exercise, submission_ids=[sub.pk], band="partial", score=4.0)
    exemplar = Exemplar.objects.get(submission=sub)
    assert (exemplar.band, exemplar.score) == ("partial", 4.0)
    assert Exemplar.objects.count() == 1 and GradeOverride.objects.filter(submission=sub).count() == 2
    assert services.grading_inputs(exercise.current_revision)["exemplars"][0].band == "partial"


@pytest.mark.parametrize("band, score", [("full", 5.0), ("none", 3.0), ("partial", 9.0), ("great", None)])
def test_a_score_outside_the_chosen_band_is_refused(course, band, score):
    _, exercise, prof, students = course
    sub = submit_and_grade(students[0], exercise, SIMILAR[0], threshold=1.0)
    with pytest.raises(ValidationError):
        services.review_decide(actor=prof, exercise=exercise, submission_ids=[sub.pk], band=band, score=score)
    assert not GradeOverride.objects.exists() and not Exemplar.objects.exists()


def test_provisional_grades_are_not_exported_as_final(course):
    c, exercise, prof, students = course
    waiting = submit_and_grade(students[0], exercise, SIMILAR[0], threshold=1.0)
    released = submit_and_grade(
        students[1], exercise, (EXERCISES / "why-skip-helps" / "solution.md").read_text(), threshold=0.0
    )
    cells = final_cells(c, exercise)
    assert cells["ana"] == "" and cells["ben"] == "10"
    rows = {r["submission_id"]: r for r in csv.DictReader(io.StringIO(gradebook.submissions_csv(c)))}
    assert rows[str(waiting.pk)]["final_score"] == "" and rows[str(waiting.pk)]["outcome"] == "pending review"
    assert rows[str(released.pk)]["final_score"] == "10"

    # LTI passback reads the same rule: pending manual grading, no score, until the review.
    from courseapp.lti.passback import final_grade

    pending = final_grade(students[0].pk, exercise)
    assert pending is not None and pending.provisional
    assert final_grade(students[1].pk, exercise).provisional is False

    services.review_decide(actor=prof, exercise=exercise, submission_ids=[waiting.pk], band="partial", score=5.0)
    assert final_cells(c, exercise)["ana"] == "5"
    reviewed = final_grade(students[0].pk, exercise)
    assert reviewed is not None and not reviewed.provisional and reviewed.score == 5.0
    rows = {r["submission_id"]: r for r in csv.DictReader(io.StringIO(gradebook.submissions_csv(c)))}
    assert rows[str(waiting.pk)]["final_score"] == "5"


def test_release_after_the_due_date_when_the_course_chooses(course, django_capture_on_commit_callbacks):
    _, exercise, _, students = course
    sub = submit_and_grade(students[0], exercise, SIMILAR[0], threshold=1.0)
    ExercisePolicy.objects.update_or_create(exercise=exercise, defaults={"due_at": timezone.now() - timedelta(hours=1)})
    assert services.release_due() == 0  # the course has not chosen it
    ReviewSettings.objects.update_or_create(exercise=exercise, defaults={"release_at_due": True})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.release_due() == 1
    assert callbacks
    assert GradeOverride.objects.get(submission=sub).score == sub.current_result.score
    assert not services.pending(exercise) and not Exemplar.objects.exists()  # not a teacher's label


def test_queue_page_is_for_the_course_instructors_and_grades_a_group(course, client):
    c, exercise, prof, students = course
    subs = [submit_and_grade(s, exercise, t, threshold=1.0) for s, t in zip(students, SIMILAR[:2])]
    url = f"/instructor/{c.slug}/exercises/{exercise.slug}/review/"
    client.force_login(students[0])
    assert client.get(url).status_code == 404
    client.force_login(prof)
    page = client.get(url)
    assert page.status_code == 200 and b"Group of 2" in page.content and b"agreement-plot" in page.content
    response = client.post(url + "decide/", {"submission": [s.pk for s in subs], "band": "none", "score": "0"})
    assert response.status_code == 302
    assert GradeOverride.objects.filter(submission__in=subs, score=0).count() == 2
    bad = client.post(url + "decide/", {"submission": [subs[0].pk], "band": "full", "score": "1"}, follow=True)
    assert b"is not full credit" in bad.content


def test_the_threshold_is_recalibrated_from_the_teachers_labels(course):
    import json

    from grader.exercise import load_exercise

    _, exercise, prof, _ = course
    rows = [json.loads(line) for line in (EXERCISES / "why-skip-helps" / "answers_dev.jsonl").read_text().splitlines()]
    assert services.recalibrate(exercise, load_exercise(revision_folder(exercise.current_revision))) is None
    for r in rows[: services.MIN_LABELS_TO_RECALIBRATE]:
        Exemplar.objects.create(
            revision=exercise.current_revision, text=r["text"], band=r["band"], score=r["score"], decided_by=prof
        )
    threshold = services.recalibrate(exercise, load_exercise(revision_folder(exercise.current_revision)))
    assert threshold is not None and 0.0 <= threshold <= 1.0
    settings = ReviewSettings.objects.get(exercise=exercise)
    assert settings.confidence_threshold == threshold and settings.calibrated_on == services.MIN_LABELS_TO_RECALIBRATE
    assert services.grading_inputs(exercise.current_revision)["threshold"] == threshold


def store_result(job: GradingJob, text: str, exercise: Exercise) -> None:
    """What the worker stores for a regrade job: the real grader with the revision's inputs now."""
    from grader.exercise import load_exercise
    from grader.freetext import grade

    spec = load_exercise(revision_folder(job.revision))
    result = grade(text, spec, **services.grading_inputs(job.revision))
    GradingJob.objects.filter(pk=job.pk).update(status=GradingJob.Status.RUNNING, attempts=1)
    grading_job_record(job.pk, result)


def compute_report(exercise: Exercise, prof, review_tasks, **run_args) -> RegradeReport:
    """What the instructor's button and the review.regrade_report task do, run here in the test."""
    report = services.regrade_report_request(exercise, actor=prof)
    assert report.status == JobStatus.QUEUED
    services.regrade_report_run(report.pk, **run_args)
    report.refresh_from_db()
    return report


def test_the_regrade_report_shows_what_a_new_exemplar_changes_and_applies_it(
    course, review_tasks, django_capture_on_commit_callbacks
):
    from courseapp.models import Regrade

    _, exercise, prof, students = course
    subs = [submit_and_grade(s, exercise, t) for s, t in zip(students, [*SIMILAR, OTHER])]
    before = {s.pk: (s.current_result.extra["band"], s.current_result.score) for s in subs}
    assert all(band != "full" for band, _ in before.values())  # the rubric reads none of the similar three
    with django_capture_on_commit_callbacks(execute=True):
        first = services.regrade_report_request(exercise, actor=prof)
    assert review_tasks == [("review.regrade_report", first.pk)]  # sent on commit; nothing computed yet
    assert first.status == JobStatus.QUEUED and first.examined == 0
    services.regrade_report_run(first.pk, chunk=2)
    first.refresh_from_db()
    assert (first.status, first.total, first.examined, first.changed) == (JobStatus.DONE, 4, 4, 0)
    assert services.regrade_report_run(first.pk) is None  # idempotent: a second delivery does nothing

    services.review_decide(actor=prof, exercise=exercise, submission_ids=[subs[0].pk], band="full", score=8.0)
    assert services.report_is_stale(first)  # the exemplars changed since
    report = compute_report(exercise, prof, review_tasks, chunk=2)  # progress saved every 2 answers
    assert not services.report_is_stale(report)
    assert (report.status, report.total, report.examined, report.exemplars) == (JobStatus.DONE, 3, 3, 1)
    # the decided answer is the teacher's now, not the machine's
    changed = {c.submission_id: c for c in report.changes.all()}
    assert set(changed) == {subs[1].pk, subs[2].pk}  # the two similar answers, not the other one
    assert report.changed == 2 and report.band_changes == 2
    for pk in (subs[1].pk, subs[2].pk):
        ch = changed[pk]
        assert (ch.before_band, ch.before_score) == before[pk]
        assert (ch.after_band, ch.after_score, ch.after_provisional) == ("full", 8.0, False)
        assert "band" in ch.what and ch.followed == "exemplars"
    # A dry run stores nothing on the answers.
    assert not Regrade.objects.exists() and GradingJob.objects.count() == 4

    regrade = services.apply_regrade_report(actor=prof, report=report, submission_ids=[subs[1].pk])
    assert regrade is not None and regrade.revision == exercise.current_revision
    (job,) = list(regrade.jobs.all())
    assert job.submission_id == subs[1].pk and job.revision == subs[1].revision  # same submission, same revision
    assert job.status == GradingJob.Status.QUEUED
    entry = AuditEntry.objects.get(action="regrade")
    assert entry.after["submissions"] == [subs[1].pk] and entry.after["reason"] == "exemplars changed"
    assert entry.after["report"] == report.pk
    # Applying the same answer again does nothing: it was regraded from this report already.
    assert services.apply_regrade_report(actor=prof, report=report, submission_ids=[subs[1].pk]) is None

    store_result(job, subs[1].source, exercise)  # the worker grades it
    graded = Submission.objects.get(pk=subs[1].pk)
    assert (graded.current_result.score, graded.current_result.extra["band"]) == (8.0, "full")
    again = compute_report(exercise, prof, review_tasks)
    assert {c.submission_id for c in again.changes.all()} == {subs[2].pk}
    # "All" regrades what is left of a report: here the one answer not regraded yet.
    rest = services.apply_regrade_report(actor=prof, report=report)
    assert rest is not None and [j.submission_id for j in rest.jobs.all()] == [subs[2].pk]


def test_a_report_for_a_failing_grader_says_so_and_one_in_flight_is_reused(course, review_tasks, monkeypatch):
    _, exercise, prof, students = course
    submit_and_grade(students[0], exercise, SIMILAR[0])
    report = services.regrade_report_request(exercise, actor=prof)
    assert services.regrade_report_request(exercise, actor=prof).pk == report.pk  # a double click: one report

    def broken(revision):
        raise RuntimeError("the exercise folder cannot be read")

    monkeypatch.setattr(services, "grader_spec", broken)
    services.regrade_report_run(report.pk)
    report.refresh_from_db()
    assert report.status == JobStatus.FAILED and "cannot be read" in report.error
    with pytest.raises(ValidationError):
        services.apply_regrade_report(actor=prof, report=report)
    assert services.regrade_report_request(exercise, actor=prof).pk != report.pk  # asking again: a new one


def test_a_lost_task_is_run_again_but_a_running_one_is_not_run_twice(course, settings):
    from datetime import timedelta as td

    _, exercise, prof, students = course
    submit_and_grade(students[0], exercise, SIMILAR[0])
    report = services.regrade_report_request(exercise, actor=prof)
    RegradeReport.objects.filter(pk=report.pk).update(status=JobStatus.RUNNING, started_at=timezone.now())
    assert services.regrade_report_run(report.pk) is None  # another worker has it right now
    lost_at = timezone.now() - td(seconds=settings.REVIEW_TASK_STALE_S + 1)
    RegradeReport.objects.filter(pk=report.pk).update(started_at=lost_at)
    done = services.regrade_report_run(report.pk)  # that worker was lost: this delivery runs it
    assert done is not None and done.status == JobStatus.DONE and done.examined == 1


def test_every_decision_recalibrates_the_threshold_and_records_it(
    course, review_tasks, django_capture_on_commit_callbacks
):
    import json

    _, exercise, prof, students = course
    revision = exercise.current_revision
    sub = submit_and_grade(students[0], exercise, SIMILAR[0], threshold=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(actor=prof, exercise=exercise, submission_ids=[sub.pk], band="full", score=8.0)
    # The decision only asks: a queued row, a task sent once it commits; the task measures it.
    (first,) = Calibration.objects.filter(revision=revision)
    assert first.status == JobStatus.QUEUED and first.threshold is None and services.calibration_pending(revision)
    assert review_tasks == [("review.recalibrate", first.pk)]
    assert services.calibration_run(first.pk) is not None
    assert services.calibration_run(first.pk) is None  # idempotent: a second delivery does nothing
    first.refresh_from_db()
    assert first.status == JobStatus.DONE and not services.calibration_pending(revision)
    # Too few labels: measured and recorded, but the exercise's own threshold stays in force.
    assert first.labels == 1 and not first.applied and "20 needed" in first.reason
    assert first.trigger.startswith("decision: 1 answer(s) full 8") and first.created_by == prof
    assert services.grading_inputs(revision)["threshold"] is None

    rows = [json.loads(line) for line in (EXERCISES / "why-skip-helps" / "answers_dev.jsonl").read_text().splitlines()]
    for r in rows[: services.MIN_LABELS_TO_RECALIBRATE]:
        Exemplar.objects.create(revision=revision, text=r["text"], band=r["band"], score=r["score"], decided_by=prof)
    other = submit_and_grade(students[1], exercise, OTHER, threshold=1.0)
    third = submit_and_grade(students[2], exercise, SIMILAR[1], threshold=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(actor=prof, exercise=exercise, submission_ids=[other.pk], band="none", score=0.0)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(actor=prof, exercise=exercise, submission_ids=[third.pk], band="full", score=8.0)
    # Two decisions before the task ran: one queued recalibration (sent again), which reads both.
    assert Calibration.objects.filter(revision=revision, status=JobStatus.QUEUED).count() == 1
    newest = Calibration.objects.filter(revision=revision).first()
    assert newest is not None and review_tasks[-2:] == [("review.recalibrate", newest.pk)] * 2
    assert services.grading_inputs(revision)["threshold"] is None  # not measured yet: nothing changes
    services.calibration_run(newest.pk)
    newest.refresh_from_db()
    assert newest is not None and newest.pk != first.pk and newest.applied
    assert newest.labels == services.MIN_LABELS_TO_RECALIBRATE + 3 and 0.0 <= newest.threshold <= 1.0
    assert newest.released <= newest.labels and newest.correct <= newest.released and newest.two_bands_off == 0
    assert newest.previous == first.threshold  # the exercise's own, in force until now
    # The new threshold is the one the worker uses from now on, and the course's setting.
    assert services.grading_inputs(revision)["threshold"] == newest.threshold
    assert ReviewSettings.objects.get(exercise=exercise).confidence_threshold == newest.threshold


def test_the_review_page_shows_the_calibrations_and_the_regrade_report(course, client, review_tasks, monkeypatch):
    from courseapp.models import Regrade
    from courseapp.review import views

    c, exercise, prof, students = course
    subs = [submit_and_grade(s, exercise, t) for s, t in zip(students, SIMILAR)]
    url = f"/instructor/{c.slug}/exercises/{exercise.slug}/review/"
    client.force_login(prof)
    client.post(url + "decide/", {"submission": [subs[0].pk], "band": "full", "score": "8"})
    page = client.get(url)  # the decision returned at once; its recalibration is pending
    assert b'id="recalibrating"' in page.content and b'data-pending="1"' in page.content
    (cal,) = Calibration.objects.all()
    services.calibration_run(cal.pk)
    fragment = client.get(url + "calibration/")
    assert fragment.status_code == 200 and b"data-pending" not in fragment.content and b"20 needed" in fragment.content
    page = client.get(url)
    assert b'id="calibrations"' in page.content and b"20 needed" in page.content and b"regrade-link" in page.content
    assert b'id="recalibrating"' not in page.content

    client.force_login(students[0])
    for path in ("regrade/", "calibration/"):
        assert client.get(url + path).status_code == 404
    for path in ("regrade/run/", "regrade/apply/"):
        assert client.post(url + path).status_code == 404
    client.force_login(prof)
    assert b'id="regrade-none"' in client.get(url + "regrade/").content
    assert client.post(url + "regrade/run/").status_code == 302
    report = RegradeReport.objects.get()
    progress = client.get(url + "regrade/")
    assert b'id="regrade-progress"' in progress.content and b'http-equiv="refresh"' in progress.content
    services.regrade_report_run(report.pk)
    monkeypatch.setattr(views, "REPORT_PAGE_SIZE", 1)  # one change a page
    first = client.get(url + "regrade/")
    assert first.status_code == 200 and b'http-equiv="refresh"' not in first.content
    assert b"<strong>2</strong> of 2 graded answer(s) would change" in first.content
    assert f'data-submission="{subs[1].pk}"'.encode() in first.content and b"page 1 of 2" in first.content
    second = client.get(url + "regrade/?page=2")
    assert f'data-submission="{subs[2].pk}"'.encode() in second.content
    assert (
        f'data-submission="{subs[1].pk}"'.encode() not in second.content and b'id="regrade-stale"' not in first.content
    )
    assert b"Tick the answers" in client.post(url + "regrade/apply/", {"report": report.pk}, follow=True).content
    response = client.post(url + "regrade/apply/", {"report": report.pk, "submission": [subs[2].pk], "page": "2"})
    assert response.status_code == 302 and response["Location"].endswith("?page=2")
    regrade = Regrade.objects.get()
    assert [j.submission_id for j in regrade.jobs.all()] == [subs[2].pk]
    assert b"regraded" in client.get(url + "regrade/?page=2").content
    client.post(url + "regrade/apply/", {"report": report.pk, "scope": "all"})
    assert Regrade.objects.count() == 2 and GradingJob.objects.filter(regrade__isnull=False).count() == 2

    # Another decision: the report no longer shows what a regrade would do, and says so.
    client.post(url + "decide/", {"submission": [subs[1].pk], "band": "partial", "score": "5"})
    assert b'id="regrade-stale"' in client.get(url + "regrade/").content


def test_the_review_tasks_are_registered_and_a_deployed_worker_consumes_their_queue(settings):
    from courseapp.celery import app
    from tests.test_compose import _cmd

    app.loader.import_default_modules()  # what a worker does at start (autodiscover)
    for name in (services.RECALIBRATE_TASK, services.REGRADE_REPORT_TASK):
        assert name in app.tasks
        assert settings.CELERY_TASK_ROUTES[name]["queue"] == settings.REVIEW_TASK_QUEUE
    assert settings.REVIEW_TASK_QUEUE in _cmd("worker-cpu")[_cmd("worker-cpu").index("-Q") + 1].split(",")
