"""The live status scales: an ETag on every answer, 304 with one light query while nothing
changed, a new ETag when the job moves; the page's poller sends If-None-Match and backs off."""

import re

from django.urls import reverse

from courseapp import services
from courseapp.models import GradingJob
from tests.conftest import ROOT, StandInGrader

GOOD = "class Mini:\n    def forward(self, x):\n        return x + x\n"


def test_status_answers_304_while_nothing_changed(client, world, enqueued, django_assert_max_num_queries):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    client.force_login(world.alice)
    url = reverse("submission-status", args=[sub.pk])
    first = client.get(url)
    assert first.status_code == 200 and first.json()["state"] == "queued"
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    client.get(url, HTTP_IF_NONE_MATCH=etag)  # warm the session
    # session + user + ONE status query; no submission/revision/exercise/result joins
    with django_assert_max_num_queries(3) as ctx:
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    status_queries = [q["sql"] for q in ctx.captured_queries if "courseapp_gradingjob" in q["sql"]]
    assert len(status_queries) == 1 and "courseapp_result" not in status_queries[0]

    GradingJob.objects.filter(pk=sub.latest_job.pk).update(status="running", attempts=1)
    moved = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and moved.json()["state"] == "running" and moved["ETag"] != etag

    GradingJob.objects.filter(pk=sub.latest_job.pk).update(progress={"event": "train", "step": 3, "total": 9})
    progressed = client.get(url, HTTP_IF_NONE_MATCH=moved["ETag"])
    assert progressed.status_code == 200 and progressed["ETag"] != moved["ETag"]

    GradingJob.objects.filter(pk=sub.latest_job.pk).update(status="queued")
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    done = client.get(url, HTTP_IF_NONE_MATCH=progressed["ETag"])
    assert done.status_code == 200 and done.json()["finished"] is True and done.json()["score"] == 10


def test_another_students_etag_gets_a_404_not_a_304(client, world, enqueued):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    client.force_login(world.alice)
    url = reverse("submission-status", args=[sub.pk])
    etag = client.get(url)["ETag"]
    client.force_login(world.bob)
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_the_poller_sends_if_none_match_and_backs_off():
    js = (ROOT / "courseapp" / "static" / "courseapp" / "exercise.js").read_text()
    assert 'headers["If-None-Match"] = etag' in js
    assert "r.status === 304" in js and 'r.headers.get("ETag")' in js
    assert "delay * 1.5" in js and "maxDelay" in js


def test_a_queued_student_sees_the_queue_ahead_and_the_poller_is_paced_by_the_expected_wait(client, world, enqueued):
    """status.json and the page say how many submissions are ahead and about how long it will take,
    at the queue's recent rate; the poll pace is a quarter of that wait (0.5 s to 10 s). Regrades
    wait behind students' work, so they are not counted ahead of a student's submission."""
    from datetime import timedelta

    from django.utils import timezone

    from courseapp import selectors
    from courseapp.models import Regrade

    client.force_login(world.alice)
    first = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    data = client.get(reverse("submission-status", args=[first.pk])).json()
    # nothing finished lately: no estimate, the poller starts fast
    assert (data["queue_ahead"], data["eta_s"], data["poll_after_ms"]) == (0, None, selectors.POLL_FIRST_MS)

    ahead = [services.submission_create(user=world.bob, exercise=world.code, source=GOOD + f"#{i}\n") for i in range(3)]
    regrade = Regrade.objects.create(exercise=world.code, revision=world.code.current_revision)
    GradingJob.objects.create(submission=first, revision=world.code.current_revision, regrade=regrade)
    mine = services.submission_create(user=world.alice, exercise=world.code, source=GOOD + "# mine\n")
    # 10 jobs finished over the last 20 s: 0.5 a second
    now = timezone.now()
    for i, sub in enumerate(
        services.submission_create(user=world.bob, exercise=world.code, source=GOOD + f"#done {i}\n") for i in range(10)
    ):
        GradingJob.objects.filter(submission=sub).update(status="done", finished_at=now - timedelta(seconds=2 * i))
    GradingJob.objects.filter(submission=ahead[0]).update(status="running")
    assert len(ahead) == 3

    wait = selectors.queue_wait(mine.latest_job)
    assert wait is not None and wait.ahead == 4  # first, 3 of bob's (one running); not the regrade
    assert 4 * 2 < wait.eta_s < 6 * 2.3  # 5 to go at ~0.5 a second
    data = client.get(reverse("submission-status", args=[mine.pk])).json()
    assert data["queue_ahead"] == 4 and abs(data["eta_s"] - wait.eta_s) < 1
    assert abs(data["poll_after_ms"] - wait.eta_s * 1000 / 4) < 250  # a quarter of the wait
    page = client.get(reverse("submission-detail", args=[mine.pk])).content.decode()
    assert "4 submissions ahead of yours; feedback in about" in page
    paced = re.search(r'data-poll-after="(\d+)"', page)
    assert paced and abs(int(paced.group(1)) - data["poll_after_ms"]) < 250

    assert selectors.poll_after_ms(selectors.QueueWait(ahead=900, eta_s=1800.0)) == selectors.POLL_MAX_MS
    assert selectors.poll_after_ms(selectors.QueueWait(ahead=0, eta_s=0.4)) == selectors.POLL_FIRST_MS
    assert selectors.queue_wait(ahead[0].latest_job) is None  # running: not waiting


def test_before_a_queue_has_a_rate_the_poller_is_paced_by_the_queue_ahead():
    """A rush's first seconds: nothing graded lately, so no rate and no estimate shown, but the queue
    ahead is known. The page polls at a quarter of the wait at POLL_ASSUMED_GRADES_PER_S (about the
    fastest grading measured), sooner than a slower known rate would ask, never past POLL_MAX_MS."""
    from courseapp import selectors

    per_s = selectors.POLL_ASSUMED_GRADES_PER_S
    assert selectors.poll_after_ms(selectors.QueueWait(ahead=0, eta_s=None)) == selectors.POLL_FIRST_MS
    assert selectors.poll_after_ms(selectors.QueueWait(ahead=199, eta_s=None)) == int(200 / per_s * 1000 / 4)
    assert selectors.poll_after_ms(selectors.QueueWait(ahead=5000, eta_s=None)) == selectors.POLL_MAX_MS
    # a real rate, slower than the assumed one, asks for a later poll than the guess did
    guess = selectors.poll_after_ms(selectors.QueueWait(ahead=99, eta_s=None))
    assert selectors.poll_after_ms(selectors.QueueWait(ahead=99, eta_s=100 / 8.0)) > guess
