import re

import pytest
from django.urls import reverse

from courseapp import services
from courseapp.models import ExerciseRevision, Submission
from tests.conftest import StandInGrader

GOOD = "def f(x):\n    return x + x\n"
BAD = "def f(x):\n    return x\n"


@pytest.fixture
def alice(client, world):
    client.force_login(world.alice)
    return client


def test_pages_need_a_login(client, world):
    for url in (reverse("exercise-list"), reverse("exercise-detail", args=["mini-block"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_login_and_logout(client, world):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice-1"})
    assert response.status_code == 302 and response["Location"] == reverse("exercise-list")
    assert client.get(reverse("exercise-list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("exercise-list")).status_code == 302


def test_exercise_list_shows_my_status(alice, world, enqueued):
    job = services.submission_create(user=world.alice, exercise=world.code, source=BAD).latest_job
    services.grading_job_run(job.pk, grader=StandInGrader())
    html = alice.get(reverse("exercise-list")).content.decode()
    assert "A mini block" in html and "Explain the skip" in html
    assert "2 / 10" in html and "not attempted" in html


def test_exercise_page_has_editor_with_starter_and_safe_prompt(alice, world):
    ExerciseRevision.objects.filter(pk=world.code.current_revision_id).update(
        prompt="# Title\n\n<script>alert('x')</script>\n\n*emphasis* and `code`\n\n[bad](javascript:alert(1))"
    )
    html = alice.get(reverse("exercise-detail", args=["mini-block"]), follow=True).content.decode()
    assert "<h1>Title</h1>" in html and "<em>emphasis</em>" in html and "<code>code</code>" in html
    assert "<script>alert" not in html and "javascript:" not in html
    assert 'class="code"' in html and "class Mini(torch.nn.Module):" in html
    assert "vendor/codemirror/codemirror.js" in html and "vendor/codemirror/python.js" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "no CDN: every asset is served locally"


def test_freetext_exercise_gets_a_plain_textarea(alice, world):
    html = alice.get(reverse("exercise-detail", args=["mini-text"]), follow=True).content.decode()
    assert 'class="prose"' in html and 'maxlength="300"' in html and "codemirror.js" not in html


def test_submit_redirects_to_the_submission_with_live_status(
    alice, world, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("exercise-detail", args=["mini-block"]), {"source": BAD})
    sub = Submission.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("submission-detail", args=[sub.pk])
    assert enqueued and enqueued[0]["args"] == [sub.latest_job.pk]

    page = alice.get(response["Location"]).content.decode()
    assert 'data-state="queued"' in page and reverse("submission-status", args=[sub.pk]) in page
    status = alice.get(reverse("submission-status", args=[sub.pk])).json()
    assert status == {
        "submission": sub.pk,
        "state": "queued",
        "finished": False,
        "attempts": 0,
        "progress": "",
        "queue_ahead": 0,  # nothing ahead, and too little graded lately to estimate a wait
        "eta_s": None,
        "poll_after_ms": 500,
        "score": None,
        "max_score": 10.0,
        "feedback_url": reverse("submission-feedback", args=[sub.pk]),
    }

    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    status = alice.get(reverse("submission-status", args=[sub.pk])).json()
    assert status["state"] == "graded" and status["finished"] and status["score"] == 2.0
    fragment = alice.get(status["feedback_url"]).content.decode()
    assert "Failed checks (1)" in fragment and "Passed checks (1)" in fragment
    assert "the shortcut adds the input" in fragment and "hidden check" in fragment
    assert "The shortcut (skip connection) is missing" in fragment
    assert "SECRET-DIAGNOSTIC" not in fragment, "a hidden check's diagnostic output is never shown"
    assert "shape (2, 4, 5, 5) as expected" in fragment, "a visible check shows its output"
    assert "2 / 10" in fragment and "0.50 s wall" in fragment


def test_invalid_submission_shows_the_error(alice, world, enqueued):
    response = alice.post(reverse("exercise-detail", args=["mini-block"]), {"source": "  "})
    assert response.status_code == 400 and "Your submission is empty." in response.content.decode()
    assert not Submission.objects.exists()


def test_student_source_is_escaped(alice, world, enqueued):
    evil = "</textarea><script>alert('pwn')</script>\n# x + x"
    alice.post(reverse("exercise-detail", args=["mini-block"]), {"source": evil})
    sub = Submission.objects.get()
    html = alice.get(reverse("submission-detail", args=[sub.pk])).content.decode()
    assert "<script>alert('pwn')" not in html and "&lt;/textarea&gt;&lt;script&gt;" in html


def test_a_student_sees_only_their_own_submissions(client, world, enqueued):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=BAD)
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    client.force_login(world.bob)
    for name in ("submission-detail", "submission-status", "submission-feedback"):
        assert client.get(reverse(name, args=[sub.pk])).status_code == 404, name
    html = client.get(reverse("exercise-detail", args=["mini-block"]), follow=True).content.decode()
    assert "No submissions yet." in html and f"#{sub.pk}" not in html


def test_users_outside_the_course_get_404(client, world, enqueued):
    client.force_login(world.outsider)
    assert client.get(reverse("exercise-detail", args=["mini-block"])).status_code == 404
    assert client.post(reverse("exercise-detail", args=["mini-block"]), {"source": GOOD}).status_code == 404
    assert not Submission.objects.exists()


def test_static_vendor_files_are_served_locally(alice):
    for name in ("codemirror.js", "codemirror.css", "python.js"):
        response = alice.get(f"/static/vendor/codemirror/{name}")
        assert response.status_code == 200, name
