from tests.courseapp.conftest import _isolated_paths, enqueued, world  # noqa: F401 - shared fixtures
