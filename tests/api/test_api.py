"""The token API with a real Celery worker over Redis and the real grader: submit, poll, read the
result; others cannot read it; the browser's limits hold; idempotency keys; instructor endpoints."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from courseapp.api.models import ApiToken
from courseapp.models import Enrolment, ExercisePolicy, GradingJob, Submission
from courseapp.services import exercise_sync
from tests.api.notebooks import CLASS_NO_SHORTCUT, student_notebook
from tests.conftest import IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def submit_url(exercise) -> str:
    return reverse("api:exercise-submit", args=[exercise.pk])


def poll(client, submission_id: int, timeout: float = 180.0) -> dict:
    """Follow the status through the API until the grade is there."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while time.monotonic() < deadline:
        body = client.get(reverse("api:submission-detail", args=[submission_id])).json()
        if body["finished"]:
            return body
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    pytest.fail(f"submission {submission_id} was not graded through the API within {timeout:.0f} s")


def test_submit_poll_and_read_the_result_as_the_student_and_as_the_instructor(
    celery_worker, identity_block, make_api_user
):
    _, ada = make_api_user("ada", identity_block.course)
    _, teacher = make_api_user("tess", identity_block.course, Enrolment.Role.INSTRUCTOR)

    listed = ada.get(reverse("api:course-list")).json()
    assert [c["slug"] for c in listed] == [identity_block.course.slug]
    assert listed[0]["exercises"][0]["slug"] == "identity-block"
    assert listed[0]["exercises"][0]["interface"] == ["IdentityBlock"]

    response = ada.post(submit_url(identity_block), {"source": IDENTITY_NO_SHORTCUT}, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["state"] in ("queued", "running") and created["result"] is None
    pending = ada.get(reverse("api:submission-result", args=[created["id"]]))
    assert pending.status_code in (200, 409)

    done = poll(ada, created["id"])
    assert done["state"] == "graded"
    result = done["result"]
    assert set(result) >= {"score", "max_score", "status", "output", "tests", "misconceptions", "execution"}
    assert result["status"] == "graded" and result["score"] < result["max_score"]
    assert "shortcut_missing" in result["misconceptions"]
    stored = GradingJob.objects.get(submission_id=created["id"]).result
    assert result["score"] == stored.score
    # the web's visibility rule: a hidden check's diagnostic output is not shown to the student
    hidden_failed = [
        t for t in stored.tests if t["visibility"] != "visible" and t["status"] == "failed" and t["output"]
    ]
    assert hidden_failed, "the wrong block should fail a hidden check with diagnostic output"
    by_name = {t["name"]: t for t in result["tests"]}
    for t in hidden_failed:
        assert by_name[t["name"]]["status"] == "failed" and by_name[t["name"]]["output"] == ""
    assert ada.get(reverse("api:submission-result", args=[created["id"]])).json() == result

    # the instructor reads the same submission whole
    staff_view = teacher.get(reverse("api:submission-result", args=[created["id"]])).json()
    assert {t["name"]: t["output"] for t in staff_view["tests"]} == {t["name"]: t["output"] for t in stored.tests}

    response = ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json")
    right = poll(ada, response.json()["id"])
    assert right["result"]["score"] == right["result"]["max_score"]


def test_another_users_token_cannot_read_a_submission(celery_worker, identity_block, make_api_user):
    _, ada = make_api_user("ada", identity_block.course)
    _, bea = make_api_user("bea", identity_block.course)
    _, outsider = make_api_user("otto")
    submission_id = ada.post(
        submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json"
    ).json()["id"]
    poll(ada, submission_id)
    for client in (bea, outsider):
        assert client.get(reverse("api:submission-detail", args=[submission_id])).status_code == 404
        assert client.get(reverse("api:submission-result", args=[submission_id])).status_code == 404
    # not enrolled: the exercise does not exist for them
    assert (
        outsider.post(
            submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json"
        ).status_code
        == 404
    )
    assert outsider.get(reverse("api:exercise-list")).json() == []
    # students cannot reach the instructor endpoints
    course = identity_block.course.slug
    assert bea.get(reverse("api:course-submissions", args=[course])).status_code == 404
    assert bea.get(reverse("api:course-grades", args=[course])).status_code == 404
    assert bea.post(reverse("api:exercise-regrade", args=[course, "identity-block"])).status_code == 404


def test_tokens_are_required_and_revocation_takes_effect(identity_block, make_api_user):
    user, ada = make_api_user("ada", identity_block.course)
    url = reverse("api:course-list")
    anonymous = type(ada)("")
    anonymous.defaults.pop("HTTP_AUTHORIZATION")
    assert anonymous.get(url).status_code == 401
    assert type(ada)("rgt_not-a-token").get(url).status_code == 401
    token_client = ada.__class__(ada.token)
    token_client.defaults["HTTP_AUTHORIZATION"] = f"Token {ada.token}"
    assert token_client.get(url).status_code == 200
    token = ApiToken.objects.get(user=user)
    assert token.digest != ada.token and ada.token not in token.prefix + token.digest
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert ada.get(url).status_code == 401


def test_the_browsers_limits_hold_for_the_api(celery_worker, identity_block, make_api_user, client):
    user, ada = make_api_user("ada", identity_block.course)
    ExercisePolicy.objects.create(exercise=identity_block, max_attempts=2, min_seconds_between=3600)
    first = ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json")
    assert first.status_code == 201
    again = ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json")
    assert again.status_code == 400 and "before submitting again" in again.json()["detail"]
    # the browser says the same thing for the same reason: one rule, one service function
    client.force_login(user)
    page = client.post(reverse("exercise-detail", args=["identity-block"]), {"source": IDENTITY_CORRECT})
    assert page.status_code == 400 and again.json()["detail"] in page.content.decode().replace("&#x27;", "'")
    ExercisePolicy.objects.filter(exercise=identity_block).update(min_seconds_between=0)
    assert (
        ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json").status_code
        == 201
    )
    used_up = ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json")
    assert used_up.status_code == 400 and "used all 2 attempts" in used_up.json()["detail"]
    ExercisePolicy.objects.filter(exercise=identity_block).update(
        max_attempts=None, due_at=timezone.now() - timedelta(hours=1)
    )
    closed = ada.post(submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json")
    assert closed.status_code == 400 and "deadline has passed" in closed.json()["detail"]
    empty = ada.post(submit_url(identity_block), {"source": "   "}, content_type="application/json")
    assert empty.status_code == 400
    assert Submission.objects.filter(user=user).count() == 2


def test_an_idempotency_key_gives_the_same_submission_and_no_second_job(celery_worker, identity_block, make_api_user):
    user, ada = make_api_user("ada", identity_block.course)
    _, bea = make_api_user("bea", identity_block.course)
    headers = {"HTTP_IDEMPOTENCY_KEY": "run-42"}
    first = ada.post(
        submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json", **headers
    )
    second = ada.post(
        submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json", **headers
    )
    assert first.status_code == 201 and second.status_code == 200
    assert second["Idempotent-Replayed"] == "true" and first.json()["id"] == second.json()["id"]
    assert Submission.objects.filter(user=user).count() == 1 and GradingJob.objects.count() == 1
    other = ada.post(
        submit_url(identity_block), {"source": IDENTITY_NO_SHORTCUT}, content_type="application/json", **headers
    )
    assert other.status_code == 422
    # a key is per user: the same key from someone else is a submission of their own
    theirs = bea.post(
        submit_url(identity_block), {"source": IDENTITY_CORRECT}, content_type="application/json", **headers
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert poll(ada, first.json()["id"])["result"]["score"] == 10


def test_a_notebook_and_a_py_file_upload(celery_worker, identity_block, make_api_user):
    _, ada = make_api_user("ada", identity_block.course)
    response = ada.post(
        submit_url(identity_block), {"file": SimpleUploadedFile("work.ipynb", student_notebook(CLASS_NO_SHORTCUT))}
    )
    assert response.status_code == 201, response.content
    assert response.json()["graded_cells"].startswith("Graded notebook cell 4, In [3] (defines IdentityBlock)")
    done = poll(ada, response.json()["id"])
    assert done["result"]["output"].startswith("Graded notebook cell 4")
    assert "shortcut_missing" in done["result"]["misconceptions"]

    py = ada.post(submit_url(identity_block), {"file": SimpleUploadedFile("block.py", IDENTITY_CORRECT.encode())})
    assert py.status_code == 201 and py.json()["graded_cells"] == ""
    as_json = ada.post(
        submit_url(identity_block),
        {"source": student_notebook().decode(), "filename": "nb.ipynb"},
        content_type="application/json",
    )
    assert as_json.status_code == 201 and "cell 4" in as_json.json()["graded_cells"]
    no_class = ada.post(submit_url(identity_block), {"file": SimpleUploadedFile("empty.ipynb", b'{"cells": []}')})
    assert no_class.status_code == 400 and "not a Jupyter notebook" in no_class.json()["detail"]
    binary = ada.post(submit_url(identity_block), {"file": SimpleUploadedFile("x.py", b"\xff\xfe")})
    assert binary.status_code == 400 and "UTF-8" in binary.json()["detail"]


def test_instructor_lists_submissions_exports_grades_and_regrades(
    celery_worker, identity_block, make_api_user, settings, real_grader
):
    _, ada = make_api_user("ada", identity_block.course)
    _, bea = make_api_user("bea", identity_block.course)
    _, teacher = make_api_user("tess", identity_block.course, Enrolment.Role.INSTRUCTOR)
    ids = [
        c.post(submit_url(identity_block), {"source": src}, content_type="application/json").json()["id"]
        for c, src in ((ada, IDENTITY_CORRECT), (bea, IDENTITY_NO_SHORTCUT), (ada, IDENTITY_NO_SHORTCUT))
    ]
    for i in ids:
        poll(teacher, i)
    course = identity_block.course.slug
    page1 = teacher.get(reverse("api:course-submissions", args=[course]), {"per_page": 2}).json()
    assert page1["count"] == 3 and page1["pages"] == 2 and len(page1["results"]) == 2 and page1["next"]
    page2 = teacher.get(page1["next"]).json()
    assert [r["id"] for r in page1["results"] + page2["results"]] == sorted(ids, reverse=True)
    only_bea = teacher.get(reverse("api:course-submissions", args=[course]), {"student": "bea"}).json()
    assert [r["user"] for r in only_bea["results"]] == ["bea"]

    grades = teacher.get(reverse("api:course-grades", args=[course])).json()
    by_user = {s["username"]: s["grades"]["identity-block"] for s in grades["students"]}
    assert by_user["ada"]["best"] == 10 and by_user["ada"]["attempts"] == 2 and by_user["bea"]["best"] < 10
    csv_response = teacher.get(reverse("api:course-grades", args=[course]), {"as": "csv", "score": "latest"})
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = csv_response.content.decode().splitlines()
    assert rows[0].startswith("Student,ID,SIS User ID") and any(",ada," in r for r in rows)

    # the exercise changes (a new revision): each student's latest submission is graded again
    root = Path(settings.EXERCISES_DIR)
    with open(root / "identity-block" / "prompt.md", "a") as f:
        f.write("\nA clarification added after the first submissions.\n")
    exercise_sync(root, grader=real_grader)
    regrade = teacher.post(
        reverse("api:exercise-regrade", args=[course, "identity-block"]),
        {"scope": "latest"},
        content_type="application/json",
    )
    assert regrade.status_code == 201, regrade.content
    regraded_ids = regrade.json()["submissions"]
    assert len(regraded_ids) == 2
    regraded = {poll(teacher, i)["user"]: poll(teacher, i)["result"]["score"] for i in regraded_ids}
    assert regraded["ada"] < 10 and regraded["bea"] < 10  # both latest submissions lack the shortcut
    again = teacher.post(
        reverse("api:exercise-regrade", args=[course, "identity-block"]),
        {"scope": "latest"},
        content_type="application/json",
    )
    assert again.json()["submissions"] == []  # already regraded against this revision
