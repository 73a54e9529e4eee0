"""Roles and access by URL manipulation: every instructor URL refuses students, outsiders, anonymous
users and instructors of another course; every student URL refuses other students (IDOR)."""

import pytest
from django.urls import reverse

from courseapp.models import AuditEntry, ExercisePolicy, GradeOverride, Regrade
from tests.courseapp.instructor_helpers import graded, make_instructor, other_course

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(world):
    prof = make_instructor(world.course)
    sub = graded(world.alice, world.code, ok=False)
    course2, ex2, prof2, stu2, sub2 = other_course()
    return {"w": world, "prof": prof, "sub": sub, "course2": course2, "ex2": ex2, "prof2": prof2, "sub2": sub2}


def instructor_gets(s):
    c, ex, sub = s["w"].course.slug, s["w"].code.slug, s["sub"].pk
    regrade = Regrade.objects.create(exercise=s["w"].code, revision=s["w"].code.current_revision, created_by=s["prof"])
    other = graded(s["w"].bob, s["w"].code, ok=False)
    return [
        reverse("instructor-courses"),
        reverse("instructor-dashboard", args=[c]),
        reverse("instructor-submissions", args=[c]),
        reverse("instructor-submission", args=[c, sub]),
        reverse("instructor-gradebook-csv", args=[c]),
        reverse("instructor-submissions-csv", args=[c]),
        reverse("instructor-progress", args=[c]),
        reverse("instructor-audit", args=[c]),
        reverse("instructor-exercise", args=[c, ex]),
        reverse("instructor-regrade", args=[c, regrade.pk]),
        reverse("instructor-similarity", args=[c, ex]),
        reverse("instructor-similarity-pair", args=[c, ex, sub, other.pk]),
    ]


def test_the_instructor_reaches_every_instructor_page(client, setup):
    client.force_login(setup["prof"])
    for url in instructor_gets(setup):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["alice", "outsider", "prof2"])
def test_others_get_404_on_every_instructor_page(client, setup, who):
    user = {"alice": setup["w"].alice, "outsider": setup["w"].outsider, "prof2": setup["prof2"]}[who]
    urls = instructor_gets(setup)
    client.force_login(user)
    for url in urls:
        if who == "prof2" and url == reverse("instructor-courses"):
            page = client.get(url).content.decode()
            assert f"/instructor/{setup['w'].course.slug}/" not in page and "/instructor/other/" in page
            continue
        assert client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_log_in(client, setup):
    for url in instructor_gets(setup):
        resp = client.get(url)
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"], url


def test_students_cannot_post_to_instructor_actions(client, setup):
    w, sub = setup["w"], setup["sub"]
    client.force_login(w.alice)
    c, ex = w.course.slug, w.code.slug
    assert (
        client.post(reverse("instructor-submission", args=[c, sub.pk]), {"score": 10, "reason": "mine"}).status_code
        == 404
    )
    assert client.post(reverse("instructor-exercise", args=[c, ex]), {"max_attempts": 99}).status_code == 404
    assert (
        client.post(
            reverse("instructor-exercise", args=[c, ex]),
            {"action": "extension", "student": "alice", "ext_due_at": "2099-01-01 00:00"},
        ).status_code
        == 404
    )
    assert client.post(reverse("instructor-regrade-start", args=[c, ex]), {"scope": "all"}).status_code == 404
    assert not GradeOverride.objects.exists() and not ExercisePolicy.objects.exists()
    assert not Regrade.objects.exists() and not AuditEntry.objects.exists()


def test_an_instructor_cannot_reach_another_courses_rows_through_their_own_course(client, setup):
    """Course slug of mine, ids of theirs: 404."""
    client.force_login(setup["prof"])
    c = setup["w"].course.slug
    assert client.get(reverse("instructor-submission", args=[c, setup["sub2"].pk])).status_code == 404
    assert (
        client.post(
            reverse("instructor-submission", args=[c, setup["sub2"].pk]), {"score": 0, "reason": "x"}
        ).status_code
        == 404
    )
    assert client.get(reverse("instructor-exercise", args=[c, setup["ex2"].slug])).status_code == 404
    assert (
        client.get(
            reverse("instructor-similarity-pair", args=[c, setup["w"].code.slug, setup["sub"].pk, setup["sub2"].pk])
        ).status_code
        == 404
    )
    regrade2 = Regrade.objects.create(exercise=setup["ex2"], revision=setup["ex2"].current_revision)
    assert client.get(reverse("instructor-regrade", args=[c, regrade2.pk])).status_code == 404
    assert setup["sub2"].user.username not in client.get(reverse("instructor-submissions", args=[c])).content.decode()
    assert "otherstudent" not in client.get(reverse("instructor-gradebook-csv", args=[c])).content.decode()
    assert not GradeOverride.objects.exists()


def test_students_cannot_see_each_others_work(client, setup):
    w, sub = setup["w"], setup["sub"]  # alice's
    client.force_login(w.bob)
    for name in ("submission-detail", "submission-status", "submission-feedback"):
        assert client.get(reverse(name, args=[sub.pk])).status_code == 404, name
        assert client.get(reverse(name, args=[setup["sub2"].pk])).status_code == 404, name
    assert client.get(reverse("exercise-detail", args=[setup["ex2"].slug])).status_code == 404
    client.force_login(w.alice)
    assert client.get(reverse("submission-detail", args=[sub.pk])).status_code == 200


def test_the_teaching_link_shows_for_instructors_only(client, setup):
    client.force_login(setup["w"].alice)
    assert 'id="nav-teaching"' not in client.get(reverse("exercise-list")).content.decode()
    client.force_login(setup["prof"])
    assert 'id="nav-teaching"' in client.get(reverse("exercise-list")).content.decode()
