"""Automatic grading of free-text explanations (exercises with kind == "freetext").

    from grader.freetext import grade_freetext
    result = grade_freetext(exercise, submission_bytes)   # -> GradeResult, never raises

Modules: text (decoding, sentences, cheap signals), model (the one shared embedding model),
rubric (rubric.toml), analyse (evidence), score (score and band), feedback (what students read).
"""

from grader.freetext.grade import grade_freetext, warm_up

__all__ = ["grade_freetext", "warm_up"]
