"""What each request of the rush costs the server: CPU ms per request (web and Postgres apart) for the
pages and polls bench/load/run.py fetches, on the same private stack (gunicorn, Postgres, Redis; no
worker, so a submission stays queued and its status poll is the 304 path the rush mostly takes).

    .venv/bin/python bench/load/webcost.py [--n 200] [--in-process]

One client, requests one after another: the CPU each costs, not queueing. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as load  # bench/load/run.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--in-process", action="store_true", help="also time the GETs through Django's WSGI handler here")
    args = ap.parse_args()
    load.signal.signal(load.signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` stops the stack too
    stack = load.Stack(0, 2, "pw-" + "x" * 12, ["identity-block"])
    try:
        stats = load.Stats()
        b = load.Browser("127.0.0.1", stack.web_port, stats)
        _, _, html = b.request("GET", "/accounts/login/", page=False)
        status, _, _ = b.request(
            "POST",
            "/accounts/login/",
            {"username": "load0000", "password": "pw-" + "x" * 12, "csrfmiddlewaretoken": load.csrf(html)},
            page=False,
        )
        assert status == 302, status
        _, _, course_list = b.request("GET", "/", page=False)
        # the exercise's page as the course list links it (the course-less URL is a redirect to it)
        exercise_url = load.exercise_links(course_list)["identity-block"]
        _, _, html = b.request("GET", exercise_url, page=False)
        source = (load.ROOT / "exercises" / "identity-block" / "solution.py").read_text()
        status, headers, _ = b.request(
            "POST", exercise_url, {"source": source, "csrfmiddlewaretoken": load.csrf(html)}, page=False
        )
        sid = int(re.search(r"/submissions/(\d+)/", headers["Location"]).group(1))
        _, headers, _ = b.request("GET", f"/submissions/{sid}/status.json", page=False)
        etag = headers.get("ETag", "")
        cases = {
            "status poll (304)": ("GET", f"/submissions/{sid}/status.json", {"If-None-Match": etag}),
            "status poll (200)": ("GET", f"/submissions/{sid}/status.json", {}),
            "course page /": ("GET", "/", {}),
            "exercise page": ("GET", exercise_url, {}),
            "submission page": ("GET", f"/submissions/{sid}/", {}),
            "feedback (queued)": ("GET", f"/submissions/{sid}/feedback/", {}),
        }
        token = load.csrf(html)
        submits = iter(range(10**6))

        def submit_body() -> dict:  # a new source each time (one submission each; they stay queued)
            return {"source": source + f"\n# {next(submits)}\n", "csrfmiddlewaretoken": token}

        cases["submit POST"] = ("POST", exercise_url, {})
        out = {}
        for name, (method, path, hdrs) in cases.items():
            for _ in range(10):  # warm
                b.request(method, path, submit_body() if method == "POST" else None, headers=hdrs, page=False)
            sampler = load.CpuSampler(stack.roles)
            t = time.perf_counter()
            codes = set()
            for _ in range(args.n):
                code, _, _ = b.request(
                    method, path, submit_body() if method == "POST" else None, headers=hdrs, page=False
                )
                codes.add(code)
            wall = time.perf_counter() - t
            cpu = sampler.report()["cpu_s_by_component"]
            out[name] = {
                "status": sorted(codes),
                "wall_ms": round(1000 * wall / args.n, 2),
                "web_cpu_ms": round(1000 * cpu.get("web", 0.0) / args.n, 2),
                "postgres_cpu_ms": round(1000 * cpu.get("postgres", 0.0) / args.n, 2),
                "client_cpu_ms": round(1000 * cpu.get("load generator", 0.0) / args.n, 2),
            }
            print(f"{name:20s} {json.dumps(out[name])}", flush=True)
        if args.in_process:
            in_process(stack, b.cookies, {k: v for k, v in cases.items() if v[0] == "GET"}, args.n)
    finally:
        stack.stop()


def in_process(stack: load.Stack, cookies: dict, cases: dict, n: int) -> None:
    """The same GETs through Django's WSGI handler in this process: the view's own CPU (process time),
    without the HTTP server and without the sampling's 10 ms ticks, steadier on a shared machine."""
    import os

    os.environ.update(stack.env)  # the stack's database, Redis and settings
    sys.path.insert(0, str(load.ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    for name, (_method, path, hdrs) in cases.items():
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": urllib.parse.urlparse(path).path,  # a redirect's Location may be absolute
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": cookie,
            "wsgi.url_scheme": "http",
            "wsgi.input": __import__("io").BytesIO(b""),
            "wsgi.errors": sys.stderr,
            **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in hdrs.items()},
        }
        codes = set()

        def start_response(status: str, headers: list, exc_info: object = None) -> None:
            codes.add(int(status.split()[0]))

        for _ in range(10):
            b"".join(handler(dict(environ), start_response))
        t = time.process_time()
        for _ in range(n):
            b"".join(handler(dict(environ), start_response))
        ms = 1000 * (time.process_time() - t) / n
        print(
            f"{name:20s} in process: {json.dumps({'status': sorted(codes), 'view_cpu_ms': round(ms, 2)})}", flush=True
        )


if __name__ == "__main__":
    main()
