import os

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run beside one
# unless told it is safe (the tests only touch the database between Playwright calls).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
