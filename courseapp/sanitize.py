"""A grade as the database can store it: what the sandbox produced (check output, printed text) is
capped in length and stripped of NUL bytes and lone surrogates before the Result insert.

Postgres refuses NUL in text and in jsonb strings, and a UTF-8 database refuses lone surrogates:
either would fail the insert and turn a student's (hostile or just unlucky) output into a lost
grade. Unbounded output would bloat every page that shows the result.
"""

from __future__ import annotations

from typing import Any

OUTPUT_MAX_CHARS = 64_000  # the overall message and what the submission printed
CHECK_OUTPUT_MAX_CHARS = 16_000  # one check's output
CHECKS_OUTPUT_BUDGET_CHARS = 256_000  # all checks' output together
NAME_MAX_CHARS = 300


def clean_text(value: str) -> str:
    """NUL removed, lone surrogates replaced (both are refused by Postgres)."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def cap(value: str, limit: int) -> str:
    value = clean_text(value)
    if len(value) <= limit:
        return value
    return value[:limit] + f"\n… [truncated: {len(value) - limit} more characters]"


def clean_json(value: Any) -> Any:
    """Every string (keys included) of a JSON value cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def safe_grade_data(data: dict[str, Any]) -> dict[str, Any]:
    """GradeResult.to_json() made safe to insert as a Result."""
    out = clean_json(data)
    out["output"] = cap(str(data.get("output", "")), OUTPUT_MAX_CHARS)
    out["stdout"] = cap(str(data.get("stdout", "")), OUTPUT_MAX_CHARS)
    budget = CHECKS_OUTPUT_BUDGET_CHARS
    tests = []
    for test in out.get("tests", []):
        test = dict(test)
        test["name"] = cap(str(test.get("name", "")), NAME_MAX_CHARS)
        text = cap(str(test.get("output", "")), min(CHECK_OUTPUT_MAX_CHARS, max(budget, 0)))
        budget -= len(text)
        test["output"] = text
        tests.append(test)
    out["tests"] = tests
    return out


# What a student is told when grading failed (the grader's or the machine's fault). The job's own
# error names exceptions and host paths: for staff only (instructor pages, staff API).
STUDENT_FAILED_MESSAGE = (
    "This submission could not be graded because of a problem on our side, not in your work. "
    "It does not use up an attempt: please submit again. Your instructor can see the details."
)
STUDENT_ERROR_RESULT_MESSAGE = (
    "This submission could not be graded: the exercise itself has a problem. Your instructor can see why."
)
