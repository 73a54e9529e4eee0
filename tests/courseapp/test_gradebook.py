"""Overrides (with the audit trail, seen by the student) and the gradebook CSVs with the late policy applied."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from courseapp.models import AuditEntry, ExercisePolicy, Extension, GradeOverride
from courseapp import selectors_gradebook as gradebook
from courseapp.services.instructor import grade_override
from tests.courseapp.instructor_helpers import graded, make_instructor

pytestmark = pytest.mark.django_db


def rows(text):
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def book(world):
    """Due a day ago, late window 2 days with 50% credit. alice: wrong on time (2), right late (10 -> 5).
    bob: right on time (10), then wrong (2) later on time."""
    now = timezone.now()
    due = now - timedelta(days=1)
    ExercisePolicy.objects.create(exercise=world.code, due_at=due, late_until=due + timedelta(days=2), late_credit=0.5)
    world.alice.first_name, world.alice.last_name, world.alice.email = "Alice", "Adams", "alice@example.org"
    world.alice.save()
    a1 = graded(world.alice, world.code, ok=False, at=due - timedelta(hours=5))
    a2 = graded(world.alice, world.code, ok=True, at=due + timedelta(hours=3))
    b1 = graded(world.bob, world.code, ok=True, at=due - timedelta(hours=4))
    b2 = graded(world.bob, world.code, ok=False, at=due - timedelta(hours=1))
    prof = make_instructor(world.course)
    return world, prof, (a1, a2, b1, b2)


def test_override_requires_a_reason_and_a_score_in_range(book):
    w, prof, (a1, *_) = book
    with pytest.raises(ValidationError, match="reason"):
        grade_override(submission=a1, actor=prof, score=5, reason="  ")
    with pytest.raises(ValidationError, match="between 0 and 10"):
        grade_override(submission=a1, actor=prof, score=11, reason="r")
    assert not GradeOverride.objects.exists() and not AuditEntry.objects.exists()


def test_override_writes_the_audit_trail_and_keeps_history(book):
    w, prof, (a1, *_) = book
    grade_override(submission=a1, actor=prof, score=6, reason="partial credit", comment="Nearly!")
    grade_override(submission=a1, actor=prof, score=7, reason="re-read")
    entries = list(AuditEntry.objects.filter(action="override").order_by("id"))
    assert [(e.before["score"], e.after["score"], e.actor_id) for e in entries] == [(2.0, 6, prof.pk), (6, 7, prof.pk)]
    assert entries[0].before["source"] == "result" and entries[1].before["source"] == "override"
    assert a1.overrides.count() == 2 and a1.overrides.first().score == 7


def test_the_student_sees_the_final_grade_and_the_comment(client, book):
    w, prof, (a1, *_) = book
    client.force_login(prof)
    resp = client.post(
        reverse("instructor-submission", args=[w.course.slug, a1.pk]),
        {"score": "8.5", "reason": "the test was too strict", "comment": "Good reasoning, see me."},
    )
    assert resp.status_code == 302
    client.force_login(w.alice)
    page = client.get(reverse("submission-detail", args=[a1.pk])).content.decode()
    assert "Final grade: 8.50 / 10" in page and "Good reasoning, see me." in page
    assert "the test was too strict" not in page  # the reason is for the audit trail
    feedback = client.get(reverse("submission-feedback", args=[a1.pk])).content.decode()
    assert "Final grade: 8.50" in feedback


def test_a_late_submission_tells_the_student_what_counts(client, book):
    w, prof, (a1, a2, *_) = book
    client.force_login(w.alice)
    page = client.get(reverse("submission-detail", args=[a2.pk])).content.decode()
    assert "Submitted late" in page and "5 counted" in page


def test_gradebook_best_latest_final_with_the_late_policy(book):
    w, prof, (a1, a2, b1, b2) = book
    course, ex = w.course, w.code
    for mode, alice, bob in (("best", "5", "10"), ("latest", "5", "2"), ("final", "5", "10")):
        r = rows(gradebook.gradebook_csv(course, mode))
        assert r[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        col = r[0].index(f"{ex.title} ({ex.pk})")
        assert r[1][0].strip() == "Points Possible" and r[1][col] == "10"
        by_login = {row[2]: row for row in r[2:]}
        assert by_login["alice"][col] == alice, mode
        assert by_login["bob"][col] == bob, mode
        assert by_login["alice"][0] == "Adams, Alice" and by_login["alice"][3] == "alice@example.org"
        assert by_login["alice"][1] == str(w.alice.pk) and by_login["alice"][4] == course.title
        text_col = r[0].index(f"{w.text.title} ({w.text.pk})")
        assert by_login["alice"][text_col] == ""  # not attempted
    assert "prof" not in {row[2] for row in rows(gradebook.gradebook_csv(course))[2:]}  # students only


def test_gradebook_final_takes_the_newest_override_and_extensions_count(book):
    w, prof, (a1, a2, b1, b2) = book
    grade_override(submission=b2, actor=prof, score=3, reason="copied")
    Extension.objects.create(exercise=w.code, user=w.alice, due_at=timezone.now())
    r = rows(gradebook.gradebook_csv(w.course, "final"))
    col = r[0].index(f"{w.code.title} ({w.code.pk})")
    by_login = {row[2]: row for row in r[2:]}
    assert by_login["bob"][col] == "3"
    assert by_login["alice"][col] == "10"  # on time with the extension


def test_after_the_late_window_a_submission_counts_zero(world):
    now = timezone.now()
    ExercisePolicy.objects.create(
        exercise=world.code, due_at=now - timedelta(days=3), late_until=now - timedelta(days=2), late_credit=0.5
    )
    graded(world.alice, world.code, ok=True, at=now - timedelta(days=1))
    r = rows(gradebook.gradebook_csv(world.course, "best"))
    col = r[0].index(f"{world.code.title} ({world.code.pk})")
    assert {row[2]: row[col] for row in r[2:]}["alice"] == "0"


def test_submissions_csv_has_one_row_per_submission(client, book):
    w, prof, (a1, a2, b1, b2) = book
    grade_override(submission=a1, actor=prof, score=4, reason="partial")
    client.force_login(prof)
    resp = client.get(reverse("instructor-submissions-csv", args=[w.course.slug]))
    assert resp["Content-Type"].startswith("text/csv") and "attachment" in resp["Content-Disposition"]
    r = rows(resp.content.decode())
    head = r[0]
    data = {int(row[0]): dict(zip(head, row)) for row in r[1:]}
    assert set(data) == {a1.pk, a2.pk, b1.pk, b2.pk}
    assert data[a2.pk]["late"] == "yes" and data[a2.pk]["late_factor"] == "0.5" and data[a2.pk]["adjusted_score"] == "5"
    assert (
        data[a1.pk]["override"] == "4"
        and data[a1.pk]["final_score"] == "4"
        and data[a1.pk]["override_reason"] == "partial"
    )
    assert data[b2.pk]["misconceptions"] == "shortcut_missing"
    assert data[b2.pk]["failed_checks"] == "the shortcut adds the input"
    assert data[b1.pk]["student"] == "bob" and data[b1.pk]["exercise"] == w.code.slug


def test_gradebook_view_modes(client, book):
    w, prof, _ = book
    client.force_login(prof)
    for mode in ("best", "latest", "final"):
        resp = client.get(reverse("instructor-gradebook-csv", args=[w.course.slug]) + f"?score={mode}")
        assert resp.status_code == 200 and f"gradebook-{mode}.csv" in resp["Content-Disposition"]
        assert resp.content.decode() == gradebook.gradebook_csv(w.course, mode)
