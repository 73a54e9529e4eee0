"""Reads cost a fixed number of queries, however many exercises and submissions there are."""

import pytest

from courseapp import selectors, services
from courseapp.models import Submission
from tests.conftest import StandInGrader, write_module_folder

GOOD = "def f(x):\n    return x + x\n"
BAD = "def f(x):\n    return x\n"


@pytest.fixture
def graded(world, enqueued):
    """alice: 3 graded code submissions (2, 10, 2) and 1 queued; bob: 1 graded code submission."""
    grader = StandInGrader()
    for source in (BAD, GOOD, BAD):
        job = services.submission_create(user=world.alice, exercise=world.code, source=source).latest_job
        services.grading_job_run(job.pk, grader=grader)
    services.submission_create(user=world.alice, exercise=world.code, source=BAD)
    job = services.submission_create(user=world.bob, exercise=world.code, source=BAD).latest_job
    services.grading_job_run(job.pk, grader=grader)
    return world


def test_exercise_list_is_one_query_with_my_status(graded, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = {e.slug: e for e in selectors.exercise_list_for_user(graded.alice)}
        assert rows["mini-block"].current_revision.max_score == 10
    code, text = rows["mini-block"], rows["mini-text"]
    assert (code.my_submissions, code.my_best_score, code.my_latest_status) == (4, 10.0, "queued")
    assert (text.my_submissions, text.my_best_score, text.my_latest_status) == (0, None, None)

    bob = {e.slug: e for e in selectors.exercise_list_for_user(graded.bob)}
    assert (bob["mini-block"].my_submissions, bob["mini-block"].my_best_score) == (1, 2.0)
    assert list(selectors.exercise_list_for_user(graded.outsider)) == []


def test_exercise_list_query_count_does_not_grow_with_exercises(graded, django_assert_num_queries, exercises_root):
    for i in range(5):
        write_module_folder(exercises_root, f"more-{i}", order=10 + i)
    services.exercise_sync(exercises_root, grader=StandInGrader())
    with django_assert_num_queries(1):
        assert len(list(selectors.exercise_list_for_user(graded.alice))) == 7


def test_submission_list_is_two_queries_and_only_mine(graded, django_assert_num_queries):
    with django_assert_num_queries(2):  # the submissions, then every job with its result
        subs = list(selectors.submission_list_for_user(graded.alice, graded.code))
        states = [selectors.job_state(s.latest_job) for s in subs]
        scores = [s.current_result.score for s in subs if s.current_result is not None]
    assert states == ["queued", "graded", "graded", "graded"]
    assert scores == [2.0, 10.0, 2.0]
    assert {s.user_id for s in subs} == {graded.alice.pk}


def test_submission_get_is_two_queries_and_404_for_others(graded, django_assert_num_queries):
    from django.http import Http404

    bobs = Submission.objects.get(user=graded.bob)
    with django_assert_num_queries(2):
        sub = selectors.submission_get_for_user(graded.bob, bobs.pk)
        assert sub.current_result.score == 2.0 and sub.revision.exercise.course.slug
    with pytest.raises(Http404):
        selectors.submission_get_for_user(graded.alice, bobs.pk)


def test_feedback_hides_hidden_diagnostics_but_names_the_misconception(graded):
    sub = Submission.objects.filter(user=graded.bob).get()
    fb = selectors.result_feedback(sub.current_result)
    [failed] = fb["failed"]
    assert failed["name"] == "the shortcut adds the input" and failed["visible"] is False
    assert failed["output"] == ""
    assert failed["misconceptions"][0]["title"] == "The shortcut (skip connection) is missing"
    assert "add it to the second batch norm" in failed["misconceptions"][0]["hint"]
    [passed] = fb["passed"]
    assert passed["visible"] and passed["output"] == "shape (2, 4, 5, 5) as expected"
    assert [m["id"] for m in fb["misconceptions"]] == ["shortcut_missing"]


def _page_queries(client, url: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # the session read once, as every later page of a visit finds it
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def test_student_pages_read_a_fixed_number_of_queries(client, graded):
    """The pages of a deadline rush, as a student opens them: the exercise comes with its policy; a queue's known rate is reused for a moment by every waiting student's page."""
    from datetime import timedelta

    from django.conf import settings
    from django.urls import reverse
    from django.utils import timezone

    from courseapp.models import Enrolment, ExercisePolicy, GradeOverride, GradingJob

    session = 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1
    client.force_login(graded.alice)
    queued = Submission.objects.filter(user=graded.alice).order_by("-id").first()
    graded_one = Submission.objects.filter(user=graded.alice).order_by("id").first()
    exercise_url = reverse("course-exercise", args=[graded.code.course.slug, graded.code.slug])
    queued_url = reverse("submission-detail", args=[queued.pk])
    assert len(_page_queries(client, reverse("exercise-list"))) == session + 3  # user, the list, teaches (the nav)
    assert len(_page_queries(client, exercise_url)) == session + 5  # user, exercise (+ policy), history (2), teaches
    # + the submission and its jobs, its override, how many are ahead, the queue's rate (4 finished: too few to tell)
    assert len(_page_queries(client, queued_url)) == session + 9
    GradingJob.objects.filter(submission=graded_one).update(finished_at=timezone.now() - timedelta(seconds=1))
    services.submission_create(user=graded.bob, exercise=graded.code, source=GOOD + "# 5th\n")
    GradingJob.objects.filter(status="queued", submission__user=graded.bob).update(
        status="done", finished_at=timezone.now()
    )
    assert len(_page_queries(client, queued_url)) == session + 8  # the rate, known now, read once

    # what the reads carry is the database's, not a copy kept from before
    assert 'id="nav-teaching"' not in client.get(exercise_url).content.decode()
    Enrolment.objects.filter(user=graded.alice).update(role=Enrolment.Role.INSTRUCTOR)
    assert 'id="nav-teaching"' in client.get(exercise_url).content.decode()
    ExercisePolicy.objects.create(exercise=graded.code, max_attempts=9)
    assert "of 9 attempts left" in client.get(exercise_url).content.decode()
    GradeOverride.objects.create(
        submission=graded_one, score=7.5, comment="regraded by hand", reason="x", created_by=graded.alice
    )
    assert "regraded by hand" in client.get(reverse("submission-detail", args=[graded_one.pk])).content.decode()
