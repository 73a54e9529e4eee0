"""Automatic grading of free-text explanations (exercises with kind == "freetext").

    from grader.freetext import grade, Exemplar, calibrate_threshold
    result = grade(answer_text, exercise, exemplars=[Exemplar(text, "partial", 5.0)])  # never raises
    result.confidence, result.provisional                     # provisional: waits for a teacher
    threshold = calibrate_threshold(labelled, exercise, exemplars)   # from teacher-labelled answers

grade_freetext(exercise, submission_bytes, exemplars=...) is what grader.engine calls.
Modules: text (decoding, sentences, cheap signals), model (the one shared embedding model),
rubric (rubric.toml), analyse (evidence), score (the rubric's score and band), exemplars (labelled
answers and their embeddings), confidence (rubric + nearest labelled answers -> band, confidence),
calibrate (threshold from labels), feedback (what students read).
"""

from grader.freetext.calibrate import Calibration, calibrate, calibrate_threshold
from grader.freetext.exemplars import Exemplar, exemplar_from_json
from grader.freetext.grade import REVIEW_NOTICE, grade, grade_freetext, preview, warm_up

__all__ = [
    "REVIEW_NOTICE",
    "Calibration",
    "Exemplar",
    "calibrate",
    "calibrate_threshold",
    "exemplar_from_json",
    "grade",
    "grade_freetext",
    "preview",
    "warm_up",
]
