"""Rostering besides LTI: an instructor enrols a class from a CSV file, or hands out a join code.

CSV columns (a header row; only `username` is required): username, email, first_name, last_name,
role (student or instructor; default student). A username that does not exist yet becomes an account
without a usable password (the student signs in through the LMS, or an administrator sets one).
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Field
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from courseapp.models import AuditEntry, Course, Enrolment

MAX_ROSTER_ROWS = 5000
# No 0/O, 1/I/L: a code read aloud or copied from a slide is typed right.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8


@dataclass
class RosterReport:
    created: list[str] = field(default_factory=list)  # new accounts
    enrolled: list[str] = field(default_factory=list)  # new enrolments (new or existing accounts)
    unchanged: list[str] = field(default_factory=list)  # already enrolled with that role
    role_changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line N: why", nothing written for that line


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "username" not in [(f or "").strip().lower() for f in reader.fieldnames]:
        raise ValidationError(
            "The CSV file needs a header row with a 'username' column (optional: email, first_name, last_name, role)."
        )
    rows = []
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROSTER_ROWS:
            raise ValidationError(f"The CSV file has more than {MAX_ROSTER_ROWS} rows.")
        rows.append(
            (number, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)})
        )
    return rows


@transaction.atomic
def roster_import_csv(*, course: Course, actor: AbstractBaseUser, data: bytes) -> RosterReport:
    """Enrol the students (and staff) a CSV file lists. Bad lines are reported, the rest applied;
    an instructor is never demoted by a file (that is a deliberate change in the admin)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("The CSV file is not UTF-8 text (save it as 'CSV UTF-8').") from None
    report = RosterReport()
    users = get_user_model()
    username_field = users._meta.get_field(users.USERNAME_FIELD)
    assert isinstance(username_field, Field)  # a concrete column, not a relation
    for number, row in _rows(text):
        username = row.get("username", "")
        role = (row.get("role") or Enrolment.Role.STUDENT).lower()
        try:
            if not username:
                raise ValidationError("no username")
            username_field.run_validators(username)
            if role not in Enrolment.Role.values:
                raise ValidationError(f"role {role!r} is not student or instructor")
            if row.get("email"):
                validate_email(row["email"])
        except ValidationError as exc:
            report.errors.append(f"line {number}: {' '.join(exc.messages)}")
            continue
        user = users.objects.filter(**{users.USERNAME_FIELD: username}).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = users.objects.create_user(
                        username,
                        email=row.get("email", ""),
                        first_name=row.get("first_name", "")[:150],
                        last_name=row.get("last_name", "")[:150],
                    )
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
            except IntegrityError:  # created meanwhile by someone else: use theirs
                user = users.objects.get(**{users.USERNAME_FIELD: username})
            else:
                report.created.append(username)
        enrolment, made = Enrolment.objects.get_or_create(user=user, course=course, defaults={"role": role})
        if made:
            report.enrolled.append(username)
        elif enrolment.role == role or enrolment.role == Enrolment.Role.INSTRUCTOR:
            report.unchanged.append(username)
        else:
            enrolment.role = role
            enrolment.save(update_fields=["role"])
            report.role_changed.append(username)
    AuditEntry.objects.create(
        course=course,
        actor=actor,
        action="roster_import",
        target=course.slug,
        after={
            "created": len(report.created),
            "enrolled": len(report.enrolled),
            "role_changed": report.role_changed,
            "errors": len(report.errors),
        },
    )
    return report


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


@transaction.atomic
def join_code_set(*, course: Course, actor: AbstractBaseUser, enabled: bool) -> str:
    """A fresh join code for the course (the old one stops working), or none (joining closed)."""
    before = course.join_code
    code = ""
    if enabled:
        for _ in range(10):
            code = _new_code()
            if not Course.objects.filter(join_code=code).exists():
                break
    Course.objects.filter(pk=course.pk).update(join_code=code)
    course.join_code = code
    AuditEntry.objects.create(
        course=course,
        actor=actor,
        action="join_code",
        target=course.slug,
        before={"enabled": bool(before)},
        after={"enabled": bool(code)},
    )
    return code


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


@transaction.atomic
def course_join(*, user: AbstractBaseUser, code: str) -> Enrolment:
    """Enrol `user` as a student of the course whose join code this is (already enrolled: as before)."""
    code = normalise_code(code)
    course = Course.objects.filter(join_code=code).first() if len(code) == JOIN_CODE_LENGTH else None
    if course is None:
        raise ValidationError("That join code is not valid (it may have been replaced); ask your instructor.")
    enrolment, _ = Enrolment.objects.get_or_create(user=user, course=course, defaults={"role": Enrolment.Role.STUDENT})
    return enrolment
