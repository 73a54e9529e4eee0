"""The compose shape in front of the site: gunicorn's sync processes serve one request each, so a
client that sends its request slowly would hold a process for as long as it likes. nginx with
deploy/nginx.conf reads every request whole first. Real nginx, real gunicorn (sync, one process), on
loopback; the app is a one-line WSGI app, because the point is what reaches gunicorn, not Django."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NGINX, free_port, nginx_conf, port_open, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]

APP = """
def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok %d" % len(body)]
"""


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {port}")
        time.sleep(0.05)


@pytest.fixture
def proxied_gunicorn(tmp_path):
    """(gunicorn's port, nginx's port): one sync gunicorn process, nginx in front with deploy/nginx.conf."""
    if NGINX is None:
        skip_or_fail("nginx is not installed here (scripts/test.sh installs it)")
    (tmp_path / "slowapp.py").write_text(APP)
    web, proxy = free_port(), free_port()
    conf = nginx_conf(tmp_path, f"127.0.0.1:{web}", f"127.0.0.1:{proxy}")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "slowapp:app", "--bind", f"127.0.0.1:{web}", "--workers", "1"],
            cwd=tmp_path,
            start_new_session=True,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
            start_new_session=True,
        ),
    ]
    try:
        _wait_port(web)
        _wait_port(proxy)
        yield web, proxy
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)


def _slow_client(port: int) -> socket.socket:
    """A client that announces a 64 KB body, sends 10 bytes of it and stalls."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65536\r\n\r\n" + b"x" * 10)
    time.sleep(0.3)  # let the server take it up
    return s


def _get(port: int, timeout: float) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": "localhost"})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def test_a_stalled_client_holds_nginx_not_the_gunicorn_process(proxied_gunicorn):
    web, proxy = proxied_gunicorn
    stalled = _slow_client(proxy)
    try:
        assert _get(proxy, timeout=3) == "ok 0"  # the one gunicorn process is free for others
    finally:
        stalled.close()
    # the body, once sent whole, reaches gunicorn whole
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=5)
    conn.request("POST", "/", body=b"y" * 200_000, headers={"Host": "localhost"})
    assert conn.getresponse().read() == b"ok 200000"
    conn.close()


def test_without_nginx_the_same_client_holds_the_process(proxied_gunicorn):
    """The control: straight to gunicorn, the stalled client takes its only process."""
    web, _ = proxied_gunicorn
    stalled = _slow_client(web)
    try:
        with pytest.raises((TimeoutError, socket.timeout)):
            _get(web, timeout=1.5)
    finally:
        stalled.close()
