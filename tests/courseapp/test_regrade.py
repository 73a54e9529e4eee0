"""Regrade after a sync made a new revision: new jobs on copies, old results kept, and the report."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp.models import Enrolment, GradingJob, Regrade, RegradeItem, Result, Submission
from courseapp.services import exercise_sync, grading_job_run
from courseapp.services.gradebook import gradebook_csv
from courseapp.services.regrade import regrade_report, regrade_start
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
    for job_id in GradingJob.objects.filter(submission__regrade_item__regrade=regrade).values_list("id", flat=True):
        grading_job_run(job_id, grader=grader)


def test_regrade_latest_makes_new_jobs_and_keeps_the_old_results(before, enqueued, django_capture_on_commit_callbacks):
    w, subs, prof = before
    results_before = set(Result.objects.values_list("id", "score"))
    with django_capture_on_commit_callbacks(execute=True):
        regrade = regrade_start(exercise=w.code, actor=prof, scope="latest")
    items = list(RegradeItem.objects.filter(regrade=regrade).select_related("original", "new"))
    assert {it.original_id for it in items} == {subs["alice"].pk, subs["bob"].pk, subs["carol"].pk}
    assert len(enqueued) == 3
    for it in items:
        assert it.new.revision_id == w.code.current_revision_id and it.new.source == it.original.source
        assert it.new.user_id == it.original.user_id
    report = regrade_report(regrade)
    assert report["finished"] == 0 and report["counts"]["pending"] == 3
    run_all(regrade)
    report = regrade_report(regrade)
    assert report["finished"] == 3 and report["percent"] == 100
    assert report["counts"] == {"up": 1, "down": 1, "unchanged": 1, "pending": 0}
    by = {r.username: r for r in report["rows"]}
    assert (by["alice"].old, by["alice"].new, by["alice"].direction) == (2.0, 10.0, "up")
    assert by["alice"].changed == [("the shortcut adds the input", "failed", "passed")]
    assert (by["bob"].old, by["bob"].new, by["bob"].direction) == (10.0, 2.0, "down")
    assert by["carol"].changed == []
    assert results_before <= set(Result.objects.values_list("id", "score"))  # old results kept as they were
    # the gradebook counts each regraded submission through its copy
    rows = list(csv.reader(io.StringIO(gradebook_csv(w.course, "latest"))))
    col = rows[0].index(f"{w.code.title} ({w.code.pk})")
    assert {r[2]: r[col] for r in rows[2:]} == {"alice": "10", "bob": "2", "carol": "10"}
    # a second regrade against the same revision has nothing to do
    assert RegradeItem.objects.filter(regrade=regrade_start(exercise=w.code, actor=prof)).count() == 0


def test_regrade_all_takes_every_submission(before, enqueued):
    w, subs, prof = before
    regrade = regrade_start(exercise=w.code, actor=prof, scope="all")
    assert regrade.items.count() == 4


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


def test_the_regrade_copy_is_shown_to_the_student_with_the_original_time(client, before, enqueued):
    w, subs, prof = before
    regrade = regrade_start(exercise=w.code, actor=prof)
    run_all(regrade)
    copy = Submission.objects.get(regrade_item__original=subs["alice"])
    client.force_login(w.alice)
    assert client.get(reverse("submission-detail", args=[copy.pk])).status_code == 200
    client.force_login(w.bob)
    assert client.get(reverse("submission-detail", args=[copy.pk])).status_code == 404
