"""The course service: a Django project and app in one package (settings, models, services, pages)."""

from courseapp.celery import app as celery_app

__all__ = ["celery_app"]
