"""Free-text review in a real browser (Debian chromium, headless): students' answers the grader is
unsure of wait for review ("your answer is being reviewed"), the instructor grades their group with
one keyboard decision in the review queue, the students see their grades, and a new similar answer
is then graded automatically with the teacher's band. Jobs run in this process through the real
worker path (grading_job_run with the real Grader), as in test_instructor_walk."""

from __future__ import annotations

import shutil

import pytest
from django.contrib.auth import get_user_model

from courseapp.models import Course, Enrolment, Exercise, GradeOverride
from courseapp.review.models import Exemplar
from courseapp.review.services import calibration_run
from courseapp.services import exercise_sync, grading_job_run
from tests.browser.test_instructor_walk import login
from tests.browser.test_student_loop import browser  # noqa: F401  (the fixture)
from tests.conftest import EXERCISES

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Three students say the same thing in their own words, which the rubric does not recognise.
GROUP = [
    (
        "A resblock is like a safety net: when it has nothing useful to add it can stay neutral, so piling up more "
        "of them never really breaks the model."
    ),
    (
        "Resblocks are like a safety net: when a block has nothing useful to add it can stay neutral, so piling up "
        "more of them never breaks the model."
    ),
    (
        "a resblock is like a safety net, when it has nothing useful to add it stays neutral, so piling more of "
        "them up never really breaks the model"
    ),
]
LATER = (
    "A resblock works like a safety net: when it has nothing useful to add it just stays neutral, so piling "
    "up more of them never really breaks the model."
)


@pytest.fixture
def course(tmp_path, settings, monkeypatch, real_grader):
    from courseapp.celery import app
    from courseapp.services.jobs import GRADE_TASK

    sent: list[int] = []  # grading jobs (run in this process by submit())
    review: list[tuple[str, int]] = []  # review tasks (run by the test where it says so)
    monkeypatch.setattr(
        app,
        "send_task",
        lambda name, args=None, **kw: (sent if name == GRADE_TASK else review).append(
            args[0] if name == GRADE_TASK else (name, args[0])
        ),
    )
    settings.EXERCISE_CACHE_DIR = tmp_path / "exercise-cache"
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(EXERCISES / "why-skip-helps", root / "why-skip-helps")
    settings.EXERCISES_DIR = root
    exercise_sync(root, grader=real_grader)
    course = Course.objects.get(slug=settings.COURSE_SLUG)
    User = get_user_model()
    prof = User.objects.create_user("prof", password="pw-prof-review")
    Enrolment.objects.create(user=prof, course=course, role=Enrolment.Role.INSTRUCTOR)
    for i in range(4):
        Enrolment.objects.create(
            user=User.objects.create_user(f"learner{i}", password=f"pw-learner-{i}"), course=course
        )
    return {"course": course, "sent": sent, "review": review, "grader": real_grader}


def student_page(browser, live_server, i: int):  # noqa: F811
    """A page of learner i's own browser session (a context of its own: its own cookies)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    login(page, live_server.url, f"learner{i}", f"pw-learner-{i}")
    return page


def submit(browser, live_server, course, i: int, text: str) -> str:  # noqa: F811
    """Learner i logs in, answers in the form, the job runs; returns the submission page's URL."""
    from playwright.sync_api import expect

    page = student_page(browser, live_server, i)
    page.goto(f"{live_server.url}/exercises/why-skip-helps/")
    page.fill("#id_source", text)
    page.click("#submit-button")
    expect(page.locator("#feedback")).to_be_visible()
    grading_job_run(course["sent"][-1], grader=course["grader"])
    page.reload()
    url = page.url
    page.context.close()
    return url


def test_group_review_grades_everyone_and_the_grader_follows_the_teacher(live_server, course, browser):  # noqa: F811
    from playwright.sync_api import expect

    urls = [submit(browser, live_server, course, i, text) for i, text in enumerate(GROUP)]
    student = student_page(browser, live_server, 0)
    student.goto(urls[0])
    expect(student.locator("#under-review")).to_have_text("your answer is being reviewed")
    expect(student.locator("pre.output").first).to_contain_text("Your answer is being reviewed by an instructor")

    prof = browser.new_context().new_page()
    prof.set_default_timeout(30_000)
    login(prof, live_server.url, "prof", "pw-prof-review")
    prof.goto(f"{live_server.url}/instructor/{course['course'].slug}/")
    prof.click("a.review-link")
    expect(prof.locator("h1")).to_contain_text("Review queue")
    group = prof.locator(".review-group").first
    expect(group).to_contain_text("Group of 3")
    expect(prof.locator("#agreement-plot")).to_be_visible()
    expect(prof.locator("body[data-review-keys=on]")).to_have_count(1)  # the page's key handler is ready
    # One decision for the whole group, from the keyboard: 1 = full credit, s = score, Enter = grade.
    prof.keyboard.press("1")
    prof.keyboard.press("s")
    prof.keyboard.type("8")
    prof.keyboard.press("Escape")
    prof.keyboard.press("c")
    prof.keyboard.type("Right: a block can stay neutral, so it cannot hurt.")
    prof.keyboard.press("Enter")
    expect(prof.locator("#messages")).to_contain_text("Graded 3 answer(s)")
    # The decision returned at once; its recalibration is a task (run here), and the page follows it.
    expect(prof.locator("#recalibrating")).to_be_visible()
    (task,) = course["review"]
    assert task[0] == "review.recalibrate"
    calibration_run(task[1])
    expect(prof.locator("#recalibrating")).to_have_count(0)
    expect(prof.locator("#calibrations")).to_contain_text("20 needed")
    expect(prof.locator("#queue-empty")).to_be_visible()
    expect(prof.locator("#decided")).to_contain_text("learner2")
    exercise = Exercise.objects.get(slug="why-skip-helps")
    assert GradeOverride.objects.filter(submission__revision__exercise=exercise, score=8).count() == 3
    assert Exemplar.objects.filter(band="full", score=8).count() == 3

    for i, url in enumerate(urls):
        page = student_page(browser, live_server, i)
        page.goto(url)
        expect(page.locator("#final-grade")).to_contain_text("Final grade: 8")
        expect(page.locator("#instructor-comment")).to_contain_text("a block can stay neutral")
        expect(page.locator("#under-review")).to_have_count(0)
        page.context.close()

    # A new, similar answer: graded automatically with the teacher's band, released at once.
    later = submit(browser, live_server, course, 3, LATER)
    page = student_page(browser, live_server, 3)
    page.goto(later)
    expect(page.locator("#score")).to_have_text("8 / 10")
    expect(page.locator("#under-review")).to_have_count(0)
    expect(page.locator("pre.output").first).to_contain_text("graded full credit")
    prof.reload()
    expect(prof.locator("#queue-empty")).to_be_visible()
