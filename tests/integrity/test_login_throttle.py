"""Login throttling that works behind a proxy (issue 12): the client's address is the
X-Forwarded-For hop TRUSTED_PROXY_COUNT from the right, /admin/login/ is throttled too, and
failures are counted per (address, username) with an exponential back-off, so nobody can lock a
student out from somewhere else."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from courseapp import security

PROXY = "172.18.0.5"  # every request reaches Django from the proxy's address


@pytest.fixture
def throttle(settings, monkeypatch):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_IP = 20
    settings.LOGIN_FAILURE_WINDOW_S = 3600
    settings.LOGIN_BACKOFF_BASE_S = 10
    settings.LOGIN_BACKOFF_MAX_S = 300
    settings.TRUSTED_PROXY_COUNT = 1
    clock = [1_000_000.0]
    monkeypatch.setattr(security, "_clock", lambda: clock[0])
    return clock


def _login(client, username, password, client_ip, url=None, spoofed=""):
    forwarded = f"{spoofed}, {client_ip}" if spoofed else client_ip  # the proxy appends the real peer
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_the_client_address_is_the_trusted_hop_from_the_right(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 10.9.8.7")
    assert security.client_address(request) == "10.9.8.7"  # the left hop is the client's own claim
    settings.TRUSTED_PROXY_COUNT = 2  # CDN -> proxy -> app: the CDN appended the client
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 10.9.8.7, 10.0.0.2")
    assert security.client_address(request) == "10.9.8.7"
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="10.0.0.2")  # fewer hops than proxies
    assert security.client_address(request) == PROXY
    settings.TRUSTED_PROXY_COUNT = 0  # no proxy: the header is the client's and is ignored
    assert security.client_address(request) == PROXY


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_the_others(client, world, throttle):
    for _ in range(6):
        _login(client, "mallory", "guess", "203.0.113.9")
    assert _login(client, "mallory", "guess", "203.0.113.9").status_code == 429
    assert _login(client, "bob", "pw-bob-1", "198.51.100.7").status_code == 302


def test_a_spoofed_forwarded_for_does_not_escape_the_throttle(client, world, throttle):
    for i in range(4):
        _login(client, "alice", "guess", "203.0.113.9", spoofed=f"1.2.3.{i}")
    assert _login(client, "alice", "guess", "203.0.113.9", spoofed="1.2.3.99").status_code == 429


def test_the_admin_login_is_throttled_too(client, world, throttle):
    url = reverse("admin:login")
    for _ in range(3):
        assert _login(client, "root", "guess", "203.0.113.9", url=url).status_code == 200
    response = _login(client, "root", "guess", "203.0.113.9", url=url)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_nobody_can_lock_a_student_out_from_elsewhere(client, world, throttle):
    for _ in range(12):
        _login(client, "alice", "guess", "203.0.113.9")
    assert _login(client, "alice", "pw-alice-1", "198.51.100.20").status_code == 302


def test_repeated_failures_back_off_exponentially_instead_of_a_hard_lock(client, world, throttle):
    clock = throttle
    for _ in range(3):
        assert _login(client, "alice", "guess", "203.0.113.9").status_code == 200
    waits = []
    for _ in range(4):
        locked = _login(client, "alice", "guess", "203.0.113.9")
        assert locked.status_code == 429
        waits.append(int(locked["Retry-After"]))
        clock[0] += waits[-1]  # wait it out: the next try is checked again
        assert _login(client, "alice", "guess", "203.0.113.9").status_code == 200
    assert waits == [10, 20, 40, 80]
    clock[0] += 160
    assert _login(client, "alice", "pw-alice-1", "203.0.113.9").status_code == 302  # not locked for good
