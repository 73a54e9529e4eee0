"""An instructor walks through the course in a real browser (Debian chromium, headless): dashboard ->
a failure cluster -> a submission -> an override (the student then sees it) -> the gradebook export ->
a regrade after the exercise changed, with its report. The course is seeded with 30 students and real
identity-block submissions whose real grader results are recorded (seed_course); the regrade's jobs are
run in this process with the stand-in grader (the real grading path is covered by test_student_loop)."""

import csv
import io
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from courseapp.models import GradeOverride, GradingJob, Regrade, Submission
from courseapp.services import exercise_sync, grading_job_run
from tests.browser.test_student_loop import CHROMIUM, CHROMIUM_ARGS  # noqa: F401
from tests.browser.test_student_loop import browser  # noqa: F401  (the fixture)
from tests.conftest import EXERCISES, IDENTITY_BLOCK, StandInGrader, capture_grading_sends

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(tmp_path, settings, monkeypatch, real_grader):
    sent = []
    capture_grading_sends(monkeypatch, lambda args, options: sent.append(args[0]))
    settings.EXERCISE_CACHE_DIR = tmp_path / "exercise-cache"
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(IDENTITY_BLOCK, root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    settings.EXERCISES_DIR = root
    # The real grader: sync runs the exercise's self-test (its mistakes must fail), which the stand-in
    # cannot pass; the grading below still uses the stand-in.
    exercise_sync(root, grader=real_grader)
    out = StringIO()
    call_command("seed_course", students=30, stdout=out)
    assert "Seeded 30 students" in out.getvalue()
    User = get_user_model()
    prof = User.objects.get(username="instructor")
    prof.set_password("pw-instructor-walk")
    prof.save()
    return {"root": root, "sent": sent, "grader": real_grader}


def login(page, url, username, password):
    page.goto(url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_instructor_walkthrough(live_server, seeded, browser, tmp_path):  # noqa: F811 - browser is the imported fixture
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    login(page, live_server.url, "instructor", "pw-instructor-walk")

    # dashboard
    page.click("#nav-teaching")
    page.click("main ul a:has-text('Why ResNets work')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("#n-students")).to_have_text("30")
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("svg.chart text.x-label").first).to_have_text("day")
    expect(page.locator("#exercise-stats")).to_contain_text("Implement the identity block")
    clusters = page.locator("#ex-identity-block table.clusters tr.cluster")
    assert clusters.count() >= 3

    # a cluster -> the filtered submissions browser -> one submission
    first_cluster = clusters.first
    students_in_cluster = int(first_cluster.locator("td").first.inner_text())
    first_cluster.locator("a.cluster-link").click()
    expect(page.locator("h1")).to_have_text("Submissions")
    count = int(re.match(r"(\d+)", page.locator("#result-count").inner_text()).group(1))
    assert count >= students_in_cluster >= 1
    page.locator("#submission-table tbody tr a").first.click()
    expect(page.locator("h1")).to_contain_text("Submission #")
    expect(page.locator(".CodeMirror .cm-keyword").first).to_be_visible()  # highlighted, read-only
    expect(page.locator("#job-phases")).to_contain_text("Finished")
    expect(page.locator("pre.diag").first).to_be_visible()  # hidden checks' diagnostics, for instructors
    student = re.search(r": (student\d+) ·", page.locator("h1").inner_text()).group(1)
    submission_id = int(re.search(r"/submissions/(\d+)/", page.url).group(1))

    # override
    page.fill("#id_score", "9")
    page.fill("#id_reason", "the idea is right; one typo")
    page.fill("#id_comment", "Nearly there: see me about the ReLU.")
    page.click("#override-form button[type=submit]")
    expect(page.locator("#final-score")).to_have_text("9")
    expect(page.locator("#override-history")).to_contain_text("the idea is right; one typo")
    assert GradeOverride.objects.filter(submission_id=submission_id, score=9).exists()
    page.click("text=Audit trail")
    expect(page.locator("#audit-table")).to_contain_text("the idea is right; one typo")

    # export
    page.click("text=Dashboard")
    with page.expect_download() as dl:
        page.click("#export-gradebook")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5] == "10"
    assert len(rows) == 2 + 30
    assert {r[2]: r[5] for r in rows[2:]}[student] == "9"

    # the student sees the final grade and the comment
    User = get_user_model()
    u = User.objects.get(username=student)
    u.set_password("pw-student-walk")
    u.save()
    spage = browser.new_page()
    login(spage, live_server.url, student, "pw-student-walk")
    spage.goto(f"{live_server.url}/submissions/{submission_id}/")
    expect(spage.locator("#final-grade")).to_contain_text("Final grade: 9")
    expect(spage.locator("#instructor-comment")).to_have_text("Nearly there: see me about the ReLU.")
    expect(spage.locator("#policy")).to_contain_text("Late submissions until")
    spage.close()

    # the exercise changes; sync makes a new revision; regrade everyone's latest
    (seeded["root"] / "identity-block" / "prompt.md").write_text(
        (IDENTITY_BLOCK / "prompt.md").read_text() + "\nClarified: keep the input for the shortcut.\n"
    )
    exercise_sync(seeded["root"], grader=seeded["grader"])
    page.click("text=policy & regrade")
    expect(page.locator("#regrade-form")).to_contain_text("graded against an older revision")
    page.select_option("#regrade-form select[name=scope]", "latest")
    submissions_before = Submission.objects.count()
    page.click("#regrade-button")
    expect(page.locator("h1")).to_contain_text("Regrade #")
    regrade = Regrade.objects.get()
    total = regrade.jobs.count()
    assert total >= 20 and len(seeded["sent"]) == total
    expect(page.locator("#progress-count")).to_have_text(f"0 of {total} graded")
    grader = StandInGrader()
    assert Submission.objects.count() == submissions_before  # a regrade grades the same submissions again
    for job_id in GradingJob.objects.filter(regrade=regrade).values_list("id", flat=True):
        grading_job_run(job_id, grader=grader)
    # the page refreshes itself while the regrade runs
    expect(page.locator("#progress-count")).to_have_text(f"{total} of {total} graded", timeout=15_000)
    up, down, same = (int(page.locator(f"#count-{k}").inner_text()) for k in ("up", "down", "unchanged"))
    assert up + down + same == total and up + down > 0
    expect(page.locator("#regrade-table tbody tr")).to_have_count(total)
    if down:
        expect(page.locator("#regrade-table tr.down").first).to_contain_text("→")
    page.screenshot(path=str(tmp_path / "regrade.png"), full_page=True)
    ctx.close()
