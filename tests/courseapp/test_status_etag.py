"""The live status scales: an ETag on every answer, 304 with one light query while nothing
changed, a new ETag when the job moves; the page's poller sends If-None-Match and backs off."""

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
