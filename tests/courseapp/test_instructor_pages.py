"""Dashboard, submissions browser, submission view, progress table: contents and query counts that do
not grow with the number of students and submissions (no N+1)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courseapp.models import Enrolment
from courseapp.selectors_instructor import failure_signature
from courseapp.services.instructor import grade_override
from tests.courseapp.instructor_helpers import graded, make_instructor

pytestmark = pytest.mark.django_db


def add_students(world, n, start=0):
    User = get_user_model()
    for i in range(start, start + n):
        u = User.objects.create_user(f"s{i:03d}")
        Enrolment.objects.create(user=u, course=world.course)
        graded(u, world.code, ok=i % 3 == 0)
        graded(u, world.code, ok=i % 2 == 0)
        graded(u, world.text, ok=True)


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200, url
    return len(ctx.captured_queries), resp


@pytest.mark.parametrize(
    "name",
    [
        "instructor-dashboard",
        "instructor-submissions",
        "instructor-progress",
        "instructor-gradebook-csv",
        "instructor-submissions-csv",
    ],
)
def test_instructor_pages_take_a_fixed_number_of_queries(client, world, name, django_assert_max_num_queries):
    prof = make_instructor(world.course)
    client.force_login(prof)
    url = reverse(name, args=[world.course.slug])
    add_students(world, 3)
    small, _ = queries(client, url)
    add_students(world, 12, start=3)
    big, _ = queries(client, url)
    assert big == small, f"{name}: {small} queries for 3 students, {big} for 15 (N+1)"
    with django_assert_max_num_queries(14):
        client.get(url)


def test_dashboard_numbers_and_charts(client, world):
    prof = make_instructor(world.course)
    add_students(world, 6)  # s000..s005: pass second attempt when even, or first when i%3==0
    client.force_login(prof)
    page = client.get(reverse("instructor-dashboard", args=[world.course.slug])).content.decode()
    assert re.search(r'id="n-students">8<', page)  # alice, bob + 6
    row = re.search(r'<tr data-exercise="mini-block">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    # attempts 12, attempted 6, passed: i in {0,2,3,4} -> 4, median best = 10
    assert cells[1:4] == ["12", "6", "4"] and cells[4].startswith("10 / 10")
    assert page.count("<svg") >= 3 and "submissions</text>" in page and "best score (of 10)" in page
    from courseapp.selectors import misconception_catalogue

    assert "the shortcut adds the input" in page and misconception_catalogue()["shortcut_missing"].title in page
    link = re.search(r'class="cluster-link" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "misconception=shortcut_missing" in link and "failed=the%20shortcut%20adds" in link
    listing = client.get(link).content.decode()
    # failed first attempts: i % 3 != 0 -> 1, 2, 4, 5; failed second attempts: odd i -> 1, 3, 5
    assert re.search(r'id="result-count">(\d+) submission', listing).group(1) == "7"


def test_submissions_browser_filters(client, world):
    prof = make_instructor(world.course)
    a_bad = graded(world.alice, world.code, ok=False)
    a_ok = graded(world.alice, world.code, ok=True)
    b_txt = graded(world.bob, world.text, ok=True)
    grade_override(submission=a_bad, actor=prof, score=5, reason="r")
    client.force_login(prof)
    url = reverse("instructor-submissions", args=[world.course.slug])

    def ids(q):
        page = client.get(url, q).content.decode()
        return {int(x) for x in re.findall(r'<td><a href="/instructor/[^"]+/submissions/(\d+)/">', page)}

    assert ids({}) == {a_bad.pk, a_ok.pk, b_txt.pk}
    assert ids({"student": "ali"}) == {a_bad.pk, a_ok.pk}
    assert ids({"exercise": world.text.slug}) == {b_txt.pk}
    assert ids({"min_score": "3", "max_score": "9"}) == set()
    assert ids({"max_score": "2"}) == {a_bad.pk}
    assert ids({"misconception": "shortcut_missing"}) == {a_bad.pk}
    assert ids({"status": "full"}) == {a_ok.pk, b_txt.pk}
    assert ids({"status": "overridden"}) == {a_bad.pk}
    assert ids({"failed": "the shortcut adds the input"}) == {a_bad.pk}


def test_submissions_browser_paginates(client, world):
    prof = make_instructor(world.course)
    for _ in range(55):
        graded(world.alice, world.code)
    client.force_login(prof)
    url = reverse("instructor-submissions", args=[world.course.slug])
    first = client.get(url).content.decode()
    assert "page 1 of 2" in first and 'id="next-page"' in first
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count("/submissions/") - second.count("submissions.csv") >= 5


def test_submission_view_shows_hidden_diagnostics_stats_and_phases(client, world):
    prof = make_instructor(world.course)
    sub = graded(world.alice, world.code, ok=False)
    client.force_login(prof)
    page = client.get(reverse("instructor-submission", args=[world.course.slug, sub.pk])).content.decode()
    assert "SECRET-DIAGNOSTIC" in page  # instructors see hidden checks' output
    assert "return x" in page and "vendor/codemirror/codemirror.js" in page and "instructor.js" in page
    for phase in ("Queued", "Started", "Finished", "peak_rss_mb", "wall_s"):
        assert phase in page


def test_override_form_errors_are_shown(client, world):
    prof = make_instructor(world.course)
    sub = graded(world.alice, world.code, ok=False)
    client.force_login(prof)
    url = reverse("instructor-submission", args=[world.course.slug, sub.pk])
    resp = client.post(url, {"score": "4", "reason": ""})
    assert resp.status_code == 400 and "Give a reason" in resp.content.decode()
    resp = client.post(url, {"score": "lots", "reason": "x"})
    assert resp.status_code == 400 and "must be a number" in resp.content.decode()


def test_progress_table(client, world):
    prof = make_instructor(world.course)
    graded(world.alice, world.code, ok=False)
    graded(world.bob, world.code, ok=True)
    graded(world.bob, world.text, ok=True)
    client.force_login(prof)
    page = client.get(reverse("instructor-progress", args=[world.course.slug])).content.decode()
    table = page[page.index('id="progress-table"') :]
    alice = re.search(r">alice</a></td>(.*?)</tr>", table, re.S).group(1)
    bob = re.search(r">bob</a></td>(.*?)</tr>", table, re.S).group(1)
    assert alice.strip().startswith('<td class="num">2') and "—" in alice
    assert bob.rstrip().endswith('<td class="num">20</td>')


def test_failure_signature_is_order_free():
    a = failure_signature(
        [{"name": "b", "status": "failed"}, {"name": "a", "status": "failed"}, {"name": "c", "status": "passed"}],
        ["m2", "m1", "m1"],
    )
    assert a == (("a", "b"), ("m1", "m2"))
    assert failure_signature([{"name": "c", "status": "passed"}], []) == ((), ())
