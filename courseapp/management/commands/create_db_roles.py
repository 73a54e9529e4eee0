"""Create (or bring up to date) the grading workers' Postgres role: it may read what grading reads
and write only what grading writes, so a sandbox escape on a worker cannot rewrite grades, delete
the audit trail, read password hashes, sessions, API tokens or the LTI signing keys.

    GRADER_DB_PASSWORD=... python manage.py create_db_roles      (docker-compose's setup job runs it)

Run it as the database owner after every migrate (new tables need their grants). What the role may
write is settings.GRADER_DB_WRITES ({"app_label.Model": ["INSERT", "UPDATE"]}); what it may not read
at all is settings.GRADER_DB_HIDDEN ("app_label.Model", or "app_label.Model.field" for one column).
Everything else it may SELECT. Models of apps that are not installed are skipped.
"""

from __future__ import annotations

import os
import re

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Model

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WRITES = {"INSERT", "UPDATE"}


def _model(label: str):
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def grant_plan(role: str) -> list[str]:
    """The SQL statements that give `role` exactly its privileges (after a REVOKE ALL)."""
    q = connection.ops.quote_name
    hidden_tables: set[str] = set()
    hidden_columns: dict[str, set[str]] = {}
    for label in settings.GRADER_DB_HIDDEN:
        parts = label.split(".")
        model = _model(".".join(parts[:2]))
        if model is None:
            continue
        if len(parts) == 3:
            hidden_columns.setdefault(model._meta.db_table, set()).add(model._meta.get_field(parts[2]).column)
        else:
            hidden_tables.add(model._meta.db_table)
    sql = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {q(role)}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {q(role)}",
        f"GRANT USAGE ON SCHEMA public TO {q(role)}",
    ]
    tables: list[tuple[str, type[Model] | None]] = sorted(
        {
            m._meta.db_table: m
            for m in apps.get_models(include_auto_created=True)
            if m._meta.managed and not m._meta.proxy
        }.items()
    )
    tables.append(("django_migrations", None))
    for table, model in tables:
        if table in hidden_tables:
            continue
        if table in hidden_columns and model is not None:
            columns = [f.column for f in model._meta.concrete_fields if f.column not in hidden_columns[table]]
            sql.append(f"GRANT SELECT ({', '.join(q(c) for c in columns)}) ON {q(table)} TO {q(role)}")
        else:
            sql.append(f"GRANT SELECT ON {q(table)} TO {q(role)}")
    for label, privileges in settings.GRADER_DB_WRITES.items():
        model = _model(label)
        if model is None:
            continue
        unknown = set(privileges) - WRITES
        if unknown:
            raise CommandError(
                f"GRADER_DB_WRITES[{label!r}]: only {sorted(WRITES)} may be granted, not {sorted(unknown)}"
            )
        table = model._meta.db_table
        sql.append(f"GRANT {', '.join(sorted(privileges))} ON {q(table)} TO {q(role)}")
        if "INSERT" in privileges:  # new rows draw their id from the table's sequence
            sql.append(
                f"SELECT 'GRANT USAGE ON SEQUENCE ' || pg_get_serial_sequence('{table}', '{model._meta.pk.column}') "
                f"|| ' TO {role}'"
            )
    return sql


class Command(BaseCommand):
    help = "Create or update the grading workers' database role (least privilege; Postgres only)."

    def add_arguments(self, parser):
        parser.add_argument("--role", default=settings.GRADER_DB_ROLE)
        parser.add_argument(
            "--password-env",
            default="GRADER_DB_PASSWORD",
            help="the environment variable that holds the role's password",
        )

    def handle(self, *args, role: str, password_env: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("database roles exist on Postgres only (SQLite has no users)")
        if not ROLE_NAME.match(role):
            raise CommandError(f"not a plain role name: {role!r}")
        password = os.environ.get(password_env, "")
        if not password:
            raise CommandError(f"set {password_env} to the password the grading workers will use")
        q = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {q(role)}")
            cursor.execute(
                f"ALTER ROLE {q(role)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                f"NOREPLICATION NOBYPASSRLS PASSWORD %s",
                [password],
            )
            cursor.execute("SELECT current_database()")
            cursor.execute(f"GRANT CONNECT ON DATABASE {q(cursor.fetchone()[0])} TO {q(role)}")
            for statement in grant_plan(role):
                cursor.execute(statement)
                if statement.startswith("SELECT 'GRANT USAGE ON SEQUENCE"):
                    generated = cursor.fetchone()[0]
                    if generated:
                        cursor.execute(generated)
        writes = ", ".join(f"{label} ({'/'.join(privs)})" for label, privs in settings.GRADER_DB_WRITES.items())
        self.stdout.write(f"role {role}: reads the course data, writes only {writes}")
