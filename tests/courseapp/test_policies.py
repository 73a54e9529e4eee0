"""Exercise policies: late arithmetic, extensions, attempt and rate limits (pure and through
submission_create), hidden-check reveal, and what the student page shows."""

from datetime import datetime, timedelta, timezone as dt_tz
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from courseapp.models import ExercisePolicy, Extension, Submission
from courseapp import policies
from courseapp.services import submission_create
from courseapp.policies import Window, late_factor, submission_gate, window_from
from tests.courseapp.instructor_helpers import OK_SRC, graded

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=dt_tz.utc)
DUE = T0 + timedelta(days=7)
LATE = DUE + timedelta(days=2)


def pol(**kw):
    base = dict(
        opens_at=T0,
        due_at=DUE,
        late_until=LATE,
        late_credit=0.5,
        max_attempts=None,
        min_seconds_between=0,
        reveal_hidden="never",
    )
    return SimpleNamespace(**{**base, **kw})


def test_late_factor_on_time_late_and_closed():
    w = window_from(pol())
    assert late_factor(w, T0) == 1.0
    assert late_factor(w, DUE) == 1.0  # the due instant itself is on time
    assert late_factor(w, DUE + timedelta(seconds=1)) == 0.5
    assert late_factor(w, LATE) == 0.5
    assert late_factor(w, LATE + timedelta(seconds=1)) == 0.0
    assert policies.adjusted_score(8.0, w, DUE + timedelta(hours=1)) == 4.0


def test_no_policy_means_open_and_unlimited():
    w = window_from(None)
    assert late_factor(w, datetime(2099, 1, 1, tzinfo=dt_tz.utc)) == 1.0
    assert policies.attempts_left(w, 1000) is None
    submission_gate(
        w, now=datetime(2099, 1, 1, tzinfo=dt_tz.utc), used=1000, last_at=datetime(2099, 1, 1, tzinfo=dt_tz.utc)
    )


def test_no_late_window_closes_at_the_due_date():
    w = window_from(pol(late_until=None))
    assert late_factor(w, DUE + timedelta(seconds=1)) == 0.0
    with pytest.raises(ValidationError, match="closed"):
        submission_gate(w, now=DUE + timedelta(seconds=1), used=0, last_at=None)


def test_late_credit_is_clamped_to_a_fraction():
    assert window_from(pol(late_credit=3)).late_credit == 1.0
    assert window_from(pol(late_credit=-1)).late_credit == 0.0


def test_extension_moves_the_due_date_and_shifts_the_late_window():
    ext = SimpleNamespace(due_at=DUE + timedelta(days=3), late_until=None)
    w = window_from(pol(), ext)
    assert w.extended and w.due_at == DUE + timedelta(days=3)
    assert w.late_until == LATE + timedelta(days=3)  # the 2-day late window kept
    assert late_factor(w, DUE + timedelta(days=1)) == 1.0  # late for others, on time for this student
    assert late_factor(w, DUE + timedelta(days=4)) == 0.5
    own = window_from(pol(), SimpleNamespace(due_at=DUE + timedelta(days=3), late_until=DUE + timedelta(days=10)))
    assert own.late_until == DUE + timedelta(days=10)


def test_gate_before_opening_and_after_closing():
    w = window_from(pol())
    with pytest.raises(ValidationError, match="opens"):
        submission_gate(w, now=T0 - timedelta(seconds=1), used=0, last_at=None)
    submission_gate(w, now=LATE, used=0, last_at=None)
    with pytest.raises(ValidationError, match="closed"):
        submission_gate(w, now=LATE + timedelta(seconds=1), used=0, last_at=None)


def test_attempt_limit_arithmetic():
    w = Window(max_attempts=3)
    assert policies.attempts_left(w, 0) == 3 and policies.attempts_left(w, 2) == 1 and policies.attempts_left(w, 5) == 0
    submission_gate(w, now=T0, used=2, last_at=None)
    with pytest.raises(ValidationError, match="all 3 attempts"):
        submission_gate(w, now=T0, used=3, last_at=None)


def test_rate_limit_arithmetic():
    w = Window(min_seconds_between=60)
    assert policies.seconds_to_wait(w, T0, T0 + timedelta(seconds=59.2)) == 1
    assert policies.seconds_to_wait(w, T0, T0 + timedelta(seconds=60)) == 0
    assert policies.seconds_to_wait(w, None, T0) == 0
    with pytest.raises(ValidationError, match="wait 50 more seconds"):
        submission_gate(w, now=T0 + timedelta(seconds=10), used=1, last_at=T0)
    submission_gate(w, now=T0 + timedelta(seconds=61), used=1, last_at=T0)


def test_reveal_hidden_never_after_due_always():
    assert not policies.reveal_hidden(window_from(pol(reveal_hidden="never")), LATE + timedelta(days=1))
    assert policies.reveal_hidden(window_from(pol(reveal_hidden="always")), T0)
    after = window_from(pol(reveal_hidden="after_due"))
    assert not policies.reveal_hidden(after, DUE + timedelta(hours=1))  # late window still open
    assert policies.reveal_hidden(after, LATE + timedelta(seconds=1))


# ---- through the database -----------------------------------------------------------------


@pytest.mark.django_db
def test_submission_create_enforces_max_attempts(world, enqueued):
    ExercisePolicy.objects.create(exercise=world.code, max_attempts=2)
    submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    with pytest.raises(ValidationError, match="all 2 attempts"):
        submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    assert Submission.objects.filter(user=world.alice).count() == 2
    submission_create(user=world.bob, exercise=world.code, source=OK_SRC)  # per student


@pytest.mark.django_db
def test_submission_create_enforces_the_rate_limit_on_the_server(world, enqueued):
    ExercisePolicy.objects.create(exercise=world.code, min_seconds_between=120)
    first = submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    with pytest.raises(ValidationError, match="wait"):
        submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    Submission.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(seconds=121))
    submission_create(user=world.alice, exercise=world.code, source=OK_SRC)


@pytest.mark.django_db
def test_submission_create_refuses_outside_the_window_and_honours_extensions(world, enqueued):
    now = timezone.now()
    ExercisePolicy.objects.create(exercise=world.code, opens_at=now + timedelta(days=1))
    with pytest.raises(ValidationError, match="opens"):
        submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    ExercisePolicy.objects.filter(exercise=world.code).update(
        opens_at=None, due_at=now - timedelta(days=2), late_until=now - timedelta(days=1)
    )
    with pytest.raises(ValidationError, match="closed"):
        submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    Extension.objects.create(exercise=world.code, user=world.alice, due_at=now + timedelta(days=1))
    submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    with pytest.raises(ValidationError, match="closed"):
        submission_create(user=world.bob, exercise=world.code, source=OK_SRC)


@pytest.mark.django_db
def test_a_regrade_is_not_an_attempt(world, enqueued):
    from courseapp.services import exercise_sync
    from courseapp.services.regrade import regrade_start
    from tests.conftest import StandInGrader

    ExercisePolicy.objects.create(exercise=world.code, max_attempts=1)
    graded(world.alice, world.code, ok=False)
    (world.root / "mini-block" / "prompt.md").write_text("# Mini block\n\nChanged.\n")
    exercise_sync(world.root, grader=StandInGrader())
    world.code.refresh_from_db()
    assert regrade_start(exercise=world.code, actor=None).jobs.count() == 1
    assert policies.attempt_usage(world.code, world.alice)[0] == 1


@pytest.mark.django_db
def test_the_student_page_shows_the_policy_and_attempts_left(client, world):
    due = timezone.now() + timedelta(days=3)
    ExercisePolicy.objects.create(
        exercise=world.code,
        due_at=due,
        late_until=due + timedelta(days=1),
        late_credit=0.5,
        max_attempts=3,
        min_seconds_between=30,
    )
    graded(world.alice, world.code)
    client.force_login(world.alice)
    page = client.get(reverse("exercise-detail", args=[world.code.slug]), follow=True).content.decode()
    assert "2</strong> of 3 attempts left" in page
    assert "count 50%" in page and "every 30 s" in page
    assert "No deadline" not in page


@pytest.mark.django_db
def test_the_student_page_refuses_a_fourth_attempt_with_a_message(client, world, enqueued):
    ExercisePolicy.objects.create(exercise=world.code, max_attempts=1)
    graded(world.alice, world.code)
    client.force_login(world.alice)
    resp = client.post(reverse("exercise-detail", args=[world.code.slug]), {"source": OK_SRC})
    assert resp.status_code == 400 and "used all 1 attempts" in resp.content.decode()
    assert not enqueued


@pytest.mark.django_db
def test_hidden_diagnostics_follow_the_reveal_policy(client, world):
    sub = graded(world.alice, world.code, ok=False)
    client.force_login(world.alice)
    url = reverse("submission-detail", args=[sub.pk])
    assert "SECRET-DIAGNOSTIC" not in client.get(url).content.decode()
    ExercisePolicy.objects.create(exercise=world.code, reveal_hidden="always")
    assert "SECRET-DIAGNOSTIC" in client.get(url).content.decode()
    ExercisePolicy.objects.filter(exercise=world.code).update(
        reveal_hidden="after_due", due_at=timezone.now() + timedelta(days=1)
    )
    assert "SECRET-DIAGNOSTIC" not in client.get(url).content.decode()
    ExercisePolicy.objects.filter(exercise=world.code).update(due_at=timezone.now() - timedelta(days=1))
    assert "SECRET-DIAGNOSTIC" in client.get(url).content.decode()


@pytest.mark.django_db
def test_instructor_edits_the_policy_and_grants_an_extension(client, world):
    from courseapp.models import AuditEntry
    from tests.courseapp.instructor_helpers import make_instructor

    prof = make_instructor(world.course)
    client.force_login(prof)
    url = reverse("instructor-exercise", args=[world.course.slug, world.code.slug])
    resp = client.post(
        url,
        {
            "due_at": "2030-01-10 12:00",
            "late_until": "2030-01-12 12:00",
            "late_credit": "0.25",
            "max_attempts": "5",
            "min_seconds_between": "60",
            "reveal_hidden": "after_due",
        },
    )
    assert resp.status_code == 302
    p = ExercisePolicy.objects.get(exercise=world.code)
    assert (p.late_credit, p.max_attempts, p.min_seconds_between, p.reveal_hidden) == (0.25, 5, 60, "after_due")
    bad = client.post(url, {"due_at": "2030-01-10 12:00", "late_until": "2030-01-01 12:00"})
    assert bad.status_code == 400 and "late window must end after" in bad.content.decode()
    resp = client.post(
        url, {"action": "extension", "student": "alice", "ext_due_at": "2030-01-20 12:00", "reason": "ill"}
    )
    assert resp.status_code == 302
    assert Extension.objects.get(user=world.alice).due_at.year == 2030
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("id")) == ["policy", "extension"]
    assert (
        client.post(url, {"action": "extension", "student": "outsider", "ext_due_at": "2030-01-20"}).status_code == 404
    )


@pytest.mark.django_db
def test_the_page_counts_attempts_and_jobs_in_flight_from_its_history_as_the_database_does(client, world, enqueued):
    """The exercise page counts attempts used and jobs in flight from the history it lists (when that
    holds every submission); the counts must be those of policies.attempt_usage and fairness.in_flight,
    failed first gradings and regrades included. With a longer history it asks the database."""
    from courseapp import selectors, views
    from courseapp.models import GradingJob, Regrade
    from courseapp.services import fairness

    graded(world.alice, world.code)
    failed = submission_create(user=world.alice, exercise=world.code, source=OK_SRC + "\n# 2\n")
    failed.jobs.update(status=GradingJob.Status.FAILED)
    submission_create(user=world.alice, exercise=world.code, source=OK_SRC + "\n# 3\n")  # queued: in flight
    regraded = graded(world.alice, world.code, source=OK_SRC + "\n# 4\n")
    regrade = Regrade.objects.create(exercise=world.code, revision=world.code.current_revision)
    GradingJob.objects.create(
        submission=regraded, revision=world.code.current_revision, regrade=regrade, status="queued"
    )  # a regrade in flight: not the student's

    history = list(selectors.submission_list_for_user(world.alice, world.code))
    assert policies.attempt_usage_of(history) == policies.attempt_usage(world.code, world.alice)
    assert policies.attempt_usage(world.code, world.alice)[0] == 3
    assert fairness.in_flight_of(history) == fairness.in_flight(world.alice, world.code) == 1

    client.force_login(world.alice)
    url = reverse("course-exercise", args=[world.course.slug, world.code.slug])
    page = client.get(url)
    assert page.context["attempts_used"] == 3 and page.context["in_flight"] == 1
    assert not page.context["history_more"] and len(page.context["submissions"]) == 4

    for i in range(views.HISTORY_SHOWN):
        submission_create(user=world.alice, exercise=world.code, source=OK_SRC + f"\n# more {i}\n")
    page = client.get(url)
    assert len(page.context["submissions"]) == views.HISTORY_SHOWN and page.context["history_more"]
    assert b'id="history-all"' in page.content
    assert page.context["attempts_used"] == 3 + views.HISTORY_SHOWN
    assert page.context["in_flight"] == 1 + views.HISTORY_SHOWN
    every = client.get(url + "?history=all")
    assert len(every.context["submissions"]) == 4 + views.HISTORY_SHOWN and not every.context["history_more"]
