"""Append-only rows (Results, grade overrides, the audit trail): written once, never changed or
deleted, by any path the ORM offers.

- `save()` on an existing row: the models refuse it themselves (ImmutableRowError);
- `Model.delete()`, `QuerySet.delete()` and cascades from a parent row: every delete goes through
  Django's Collector, which sends `pre_delete` for rows of models with a receiver; ours raises;
- `QuerySet.update()` (bypasses save()): refused by AppendOnlyManager's queryset.

Raw SQL is out of the ORM's reach: the grading workers' database role holds no UPDATE/DELETE on
these tables (deploy/postgres-roles.sql, `manage.py create_db_roles`).
"""

from __future__ import annotations

from django.db import models
from django.db.models.signals import pre_delete


def _error(model: type[models.Model], what: str) -> Exception:
    from courseapp.models import ImmutableRowError

    return ImmutableRowError(f"{model._meta.verbose_name_plural} are append-only: {what} is not allowed")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise _error(self.model, "update()")

    def delete(self):
        raise _error(self.model, "delete()")


class AppendOnlyManager(models.Manager.from_queryset(AppendOnlyQuerySet)):  # type: ignore[misc]  # a base class built at run time
    """`objects = AppendOnlyManager()` on a model whose rows are written once."""

    def contribute_to_class(self, cls, name):
        super().contribute_to_class(cls, name)
        # The delete guard that also covers cascades and the admin (which bypass this manager).
        pre_delete.connect(_refuse_delete, sender=cls, dispatch_uid=f"append-only:{cls._meta.label}", weak=False)


def _refuse_delete(sender, instance, **kwargs):
    raise _error(sender, "deleting a row")
