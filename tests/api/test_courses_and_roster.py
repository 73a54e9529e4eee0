"""Course-scoped student pages (a student in two courses with the same exercise slug sees and
submits to each separately), old URLs redirecting when unambiguous, enrolment by CSV and by join code."""

from __future__ import annotations

import shutil

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from courseapp.models import AuditEntry, Course, Enrolment, Exercise, Submission
from courseapp.services import exercise_sync
from courseapp.services.rostering import course_join, join_code_set
from tests.conftest import StandInGrader, write_module_folder

pytestmark = pytest.mark.django_db

GOOD = "import torch\n\n\nclass Mini(torch.nn.Module):\n    def forward(self, x):\n        return x + x\n"


@pytest.fixture
def two_courses(exercises_root, settings):
    """Course A (the default course) and course B, each with its own 'mini-block' exercise."""
    write_module_folder(exercises_root, "mini-block", prompt="# Mini block\n\nCourse A's version.\n")
    exercise_sync(exercises_root, grader=StandInGrader())
    a = Exercise.objects.get(slug="mini-block")
    other_root = exercises_root.parent / "other"
    write_module_folder(other_root, "mini-block", prompt="# Mini block\n\nCourse B's version.\n")
    shutil.copy(exercises_root / "misconceptions.toml", other_root)
    b_course = Course.objects.create(slug="course-b", title="Course B")
    settings.COURSE_SLUG, settings.COURSE_TITLE = b_course.slug, b_course.title
    exercise_sync(other_root, grader=StandInGrader())
    b = Exercise.objects.get(course=b_course, slug="mini-block")
    assert a.course_id != b.course_id
    return a, b


def test_a_student_in_two_courses_sees_and_submits_to_each_separately(
    two_courses, client, django_capture_on_commit_callbacks
):
    a, b = two_courses
    user = get_user_model().objects.create_user("ada", password="pw-ada-12345")
    Enrolment.objects.create(user=user, course=a.course)
    Enrolment.objects.create(user=user, course=b.course)
    client.force_login(user)
    listing = client.get(reverse("exercise-list")).content.decode()
    for ex in (a, b):
        assert reverse("course-exercise", args=[ex.course.slug, ex.slug]) in listing
    page_a = client.get(reverse("course-exercise", args=[a.course.slug, "mini-block"])).content.decode()
    page_b = client.get(reverse("course-exercise", args=[b.course.slug, "mini-block"])).content.decode()
    assert "Course A&#x27;s version" in page_a or "Course A's version" in page_a
    assert "Course B&#x27;s version" in page_b or "Course B's version" in page_b
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("course-exercise", args=[b.course.slug, "mini-block"]), {"source": GOOD})
    assert response.status_code == 302
    submission = Submission.objects.get(user=user)
    assert submission.revision.exercise_id == b.pk
    # the submission page shows course B's exercise, and course A's page lists no submission
    detail = client.get(reverse("submission-detail", args=[submission.pk])).content.decode()
    assert "Course B" in detail and "course-b" in detail
    assert (
        f"/submissions/{submission.pk}/"
        not in client.get(reverse("course-exercise", args=[a.course.slug, "mini-block"])).content.decode()
    )
    # the old URL is ambiguous for this student: a choice, not a guess
    old = client.get(reverse("exercise-detail", args=["mini-block"]))
    assert old.status_code == 300
    assert reverse("course-exercise", args=[b.course.slug, "mini-block"]) in old.content.decode()
    # one course's list shows only its own copy
    only_b = client.get(reverse("course-exercise-list", args=[b.course.slug])).content.decode()
    assert reverse("course-exercise", args=[b.course.slug, "mini-block"]) in only_b
    assert reverse("course-exercise", args=[a.course.slug, "mini-block"]) not in only_b
    # by primary key
    by_pk = client.get(reverse("exercise-by-id", args=[b.pk]))
    assert by_pk.status_code == 302 and by_pk["Location"] == reverse("course-exercise", args=["course-b", "mini-block"])


def test_the_old_url_redirects_when_unambiguous(two_courses, client):
    a, _ = two_courses
    user = get_user_model().objects.create_user("bea", password="pw-bea-12345")
    Enrolment.objects.create(user=user, course=a.course)
    client.force_login(user)
    response = client.get(reverse("exercise-detail", args=["mini-block"]))
    assert response.status_code == 302 and response["Location"] == reverse(
        "course-exercise", args=[a.course.slug, "mini-block"]
    )
    # not enrolled in course B: its page does not exist for her
    assert client.get(reverse("course-exercise", args=["course-b", "mini-block"])).status_code == 404
    assert client.get(reverse("course-exercise-list", args=["course-b"])).status_code == 404


def test_enrol_by_csv_upload(two_courses, client):
    a, _ = two_courses
    teacher = get_user_model().objects.create_user("tess", password="pw-tess-12345")
    Enrolment.objects.create(user=teacher, course=a.course, role=Enrolment.Role.INSTRUCTOR)
    existing = get_user_model().objects.create_user("carl")
    client.force_login(teacher)
    url = reverse("instructor-roster", args=[a.course.slug])
    assert client.get(url).status_code == 200
    csv_text = (
        "username,email,first_name,last_name,role\n"
        "dora,dora@example.org,Dora,Diaz,student\n"
        "carl,,,,\n"
        "tess,,,,student\n"
        ",nobody@example.org,,,\n"
        "eve,not-an-email,,,\n"
        "finn,,,,admin\n"
    )
    response = client.post(url, {"action": "import", "roster": SimpleUploadedFile("class.csv", csv_text.encode())})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.created == ["dora"] and sorted(report.enrolled) == ["carl", "dora"]
    assert report.unchanged == ["tess"]  # an instructor is not demoted by a file
    assert len(report.errors) == 3 and report.errors[0].startswith("line 5")
    dora = get_user_model().objects.get(username="dora")
    assert not dora.has_usable_password() and dora.email == "dora@example.org"
    assert Enrolment.objects.get(user=existing, course=a.course).role == "student"
    assert AuditEntry.objects.filter(course=a.course, action="roster_import").exists()
    bad = client.post(url, {"action": "import", "roster": SimpleUploadedFile("x.csv", b"name\nx\n")})
    assert bad.status_code == 400 and "username" in bad.content.decode()
    # students cannot reach the roster page
    client.force_login(dora)
    assert client.get(url).status_code == 404


def test_join_by_code(two_courses, client):
    _, b = two_courses
    teacher = get_user_model().objects.create_user("tess", password="pw-tess-12345")
    Enrolment.objects.create(user=teacher, course=b.course, role=Enrolment.Role.INSTRUCTOR)
    client.force_login(teacher)
    client.post(reverse("instructor-roster", args=[b.course.slug]), {"action": "join_code_new"})
    code = Course.objects.get(pk=b.course_id).join_code
    assert len(code) == 8
    student = get_user_model().objects.create_user("gus", password="pw-gus-12345")
    client.force_login(student)
    wrong = client.post(reverse("course-join"), {"code": "NOPE1234"})
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    joined = client.post(reverse("course-join"), {"code": code.lower()[:4] + "-" + code.lower()[4:]})
    assert joined.status_code == 302
    assert Enrolment.objects.get(user=student, course=b.course).role == "student"
    assert client.get(reverse("course-exercise", args=[b.course.slug, "mini-block"])).status_code == 200
    # a join link works too, and a new code retires the old one
    link = client.get(reverse("course-join") + f"?code={code}")
    assert code in link.content.decode()
    new = join_code_set(course=b.course, actor=teacher, enabled=True)
    assert new != code
    with pytest.raises(Exception, match="not valid"):
        course_join(user=student, code=code)
    join_code_set(course=b.course, actor=teacher, enabled=False)
    with pytest.raises(Exception, match="not valid"):
        course_join(user=student, code=new)
