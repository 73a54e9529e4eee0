import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run beside one
# unless told it is safe (the tests only touch the database between Playwright calls). Set only while
# a browser test runs: set for the whole session it would leak into other tests' subprocesses (e.g.
# `manage.py check --deploy`, which rightly refuses it).


@pytest.fixture(autouse=True)
def _allow_async_unsafe(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
