"""Regrade after a sync made a new revision: a new job (and result) on the same submission, old results
kept, the newest result counts, and the report."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp.models import Enrolment, GradingJob, Regrade, Result, Submission
from courseapp.selectors_instructor import regrade_report
from courseapp.services import exercise_sync, grading_job_run
from courseapp.selectors_gradebook import gradebook_csv
from courseapp.services.regrade import regrade_start
from courseapp.signals import final_grade_changed
from courseapp.services.seeding import record_graded
from tests.conftest import StandInGrader
from tests.courseapp.instructor_helpers import BAD_SRC, OK_SRC, checks, make_instructor

pytestmark = pytest.mark.django_db


@pytest.fixture
def before(world):
    """Old results that the new revision's checks will disagree with: alice up, bob down, carol unchanged."""
    carol = get_user_model().objects.create_user("carol")
    Enrolment.objects.create(user=carol, course=world.course)
    rev = world.code.current_revision
    subs = {
        "alice_old": record_graded(user=world.alice, revision=rev, source=BAD_SRC, tests=checks(False)),
        "alice": record_graded(user=world.alice, revision=rev, source=OK_SRC, tests=checks(False)),
        "bob": record_graded(user=world.bob, revision=rev, source=BAD_SRC, tests=checks(True)),
        "carol": record_graded(user=carol, revision=rev, source=OK_SRC, tests=checks(True)),
    }
    (world.root / "mini-block" / "checks.py").write_text("CHECKS = []  # fixed\n")
    exercise_sync(world.root, grader=StandInGrader())
    world.code.refresh_from_db()
    assert world.code.current_revision_id != rev.pk
    return world, subs, make_instructor(world.course)


def run_all(regrade):
    grader = StandInGrader()
    for job_id in GradingJob.objects.filter(regrade=regrade).values_list("id", flat=True):
        grading_job_run(job_id, grader=grader)


def test_regrade_latest_makes_new_jobs_on_the_same_submissions_and_keeps_the_old_results(
    before, enqueued, django_capture_on_commit_callbacks
):
    w, subs, prof = before
    results_before = set(Result.objects.values_list("id", "score"))
    submissions_before = set(Submission.objects.values_list("id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        regrade = regrade_start(exercise=w.code, actor=prof, scope="latest")
    assert set(Submission.objects.values_list("id", flat=True)) == submissions_before  # no copy, no new row
    jobs = list(GradingJob.objects.filter(regrade=regrade))
    assert {j.submission_id for j in jobs} == {subs["alice"].pk, subs["bob"].pk, subs["carol"].pk}
    assert all(j.revision_id == w.code.current_revision_id and j.status == "queued" for j in jobs)
    assert sorted(m["args"][0] for m in enqueued) == sorted(j.pk for j in jobs)
    report = regrade_report(regrade)
    assert report["finished"] == 0 and report["counts"]["pending"] == 3
    # while the regrade is pending, the old result still counts
    assert Submission.objects.get(pk=subs["bob"].pk).current_result.score == 10.0
    run_all(regrade)
    report = regrade_report(regrade)
    assert report["finished"] == 3 and report["percent"] == 100
    assert report["counts"] == {"up": 1, "down": 1, "unchanged": 1, "pending": 0}
    by = {r.username: r for r in report["rows"]}
    assert (by["alice"].old, by["alice"].new, by["alice"].direction) == (2.0, 10.0, "up")
    assert by["alice"].changed == [("the shortcut adds the input", "failed", "passed")]
    assert (by["bob"].old, by["bob"].new, by["bob"].direction) == (10.0, 2.0, "down")
    assert (by["carol"].old, by["carol"].new, by["carol"].direction) == (10.0, 10.0, "unchanged")
    assert by["carol"].changed == []
    assert results_before <= set(Result.objects.values_list("id", "score"))  # old results kept as they were
    assert Result.objects.count() == len(results_before) + 3
    # each regraded submission now has two results; the newest counts
    bob = Submission.objects.get(pk=subs["bob"].pk)
    assert bob.jobs.count() == 2 and bob.current_result.score == 2.0 and bob.latest_job.regrade_id == regrade.pk
    # the gradebook counts each regraded submission once, through its newest result
    rows = list(csv.reader(io.StringIO(gradebook_csv(w.course, "latest"))))
    col = rows[0].index(f"{w.code.title} ({w.code.pk})")
    assert {r[2]: r[col] for r in rows[2:]} == {"alice": "10", "bob": "2", "carol": "10"}
    best = list(csv.reader(io.StringIO(gradebook_csv(w.course, "best"))))
    assert {r[2]: r[col] for r in best[2:]} == {
        "alice": "10",
        "bob": "2",
        "carol": "10",
    }  # bob's old 10 no longer counts
    # a regrade is not an attempt: alice still has made two
    from courseapp import policies

    assert policies.attempt_usage(w.code, w.alice)[0] == 2
    # a second regrade against the same revision has nothing to do
    assert regrade_start(exercise=w.code, actor=prof).jobs.count() == 0


def test_a_failed_regrade_leaves_the_previous_result_in_force(before, enqueued):
    w, subs, prof = before
    regrade = regrade_start(exercise=w.code, actor=prof, scope="latest")
    job = GradingJob.objects.get(regrade=regrade, submission=subs["bob"])
    GradingJob.objects.filter(pk=job.pk).update(status=GradingJob.Status.FAILED)
    bob = Submission.objects.get(pk=subs["bob"].pk)
    assert bob.latest_job.status == "failed" and bob.current_result.score == 10.0
    assert {r.username: r.state for r in regrade_report(regrade)["rows"]}["bob"] == "failed"


def test_recording_a_regrade_result_sends_final_grade_changed(before, enqueued, django_capture_on_commit_callbacks):
    w, subs, prof = before
    regrade = regrade_start(exercise=w.code, actor=prof, scope="latest")
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    final_grade_changed.connect(receiver)
    try:
        job = GradingJob.objects.get(regrade=regrade, submission=subs["bob"])
        with django_capture_on_commit_callbacks(execute=True):
            grading_job_run(job.pk, grader=StandInGrader())
    finally:
        final_grade_changed.disconnect(receiver)
    assert [(s["user_id"], s["exercise_id"], s["reason"]) for s in seen] == [(w.bob.pk, w.code.pk, "regrade")]


def test_regrade_all_takes_every_submission(before, enqueued):
    w, subs, prof = before
    submissions_before = Submission.objects.count()
    regrade = regrade_start(exercise=w.code, actor=prof, scope="all")
    assert regrade.jobs.count() == 4 and Submission.objects.count() == submissions_before


def test_regrade_through_the_pages(client, before, enqueued):
    w, subs, prof = before
    client.force_login(prof)
    page = client.get(reverse("instructor-exercise", args=[w.course.slug, w.code.slug])).content.decode()
    assert "graded against an older revision" in page
    resp = client.post(reverse("instructor-regrade-start", args=[w.course.slug, w.code.slug]), {"scope": "latest"})
    regrade = Regrade.objects.get()
    assert resp.status_code == 302 and resp["Location"].endswith(f"/regrades/{regrade.pk}/")
    page = client.get(resp["Location"]).content.decode()
    assert "0 of 3 graded" in page and 'http-equiv="refresh"' in page
    run_all(regrade)
    page = client.get(resp["Location"]).content.decode()
    assert "3 of 3 graded" in page and 'http-equiv="refresh"' not in page
    assert 'id="count-up">1<' in page and 'id="count-down">1<' in page and 'id="count-unchanged">1<' in page
    assert "the shortcut adds the input: failed → passed" in page


def test_the_student_sees_the_regraded_result_on_the_same_submission(client, before, enqueued):
    w, subs, prof = before
    regrade = regrade_start(exercise=w.code, actor=prof)
    run_all(regrade)
    client.force_login(w.alice)
    page = client.get(reverse("submission-detail", args=[subs["alice"].pk])).content.decode()
    assert page.count('data-submission="') == 3  # the feedback and her two submissions: no copy listed
    status = client.get(reverse("submission-status", args=[subs["alice"].pk])).json()
    assert status["state"] == "graded" and status["score"] == 10.0
    client.force_login(w.bob)
    assert client.get(reverse("submission-detail", args=[subs["alice"].pk])).status_code == 404
