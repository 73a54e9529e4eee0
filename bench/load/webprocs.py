"""Which gunicorn shape serves a page fastest on this machine: each shape its own gunicorn on one
private stack (bench/load/run.py's: Postgres, Redis, no worker), driven in turn by the same logged-in
clients, each requesting the exercise page back to back; interleaved rounds, so a slower minute of
the machine hits every shape alike. Also the sync shape behind deploy/nginx.conf (the compose proxy),
where nginx is installed.

    .venv/bin/python bench/load/webprocs.py [--clients 30] [--rounds 4] [--requests 30]

Prints pages/s, web CPU ms per page and latency p50/p95 per round and the median per shape.
A script, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as load  # bench/load/run.py

SHAPES = [("gthread", 3, 4), ("gthread", 3, 1), ("sync", 3, 1), ("gthread", 3, 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--requests", type=int, default=30, help="per client per round")
    args = ap.parse_args()
    load.signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = load.Stack(0, args.clients, "pw-" + "x" * 12, ["identity-block"])
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="webprocs-"))
    try:
        shapes = []  # (name, port the clients use, pids whose CPU is the web's)
        for kind, workers, threads in SHAPES:
            port = load.free_port()
            cmd = [load.PY, "-m", "gunicorn", "courseapp.wsgi:application", "--bind", f"127.0.0.1:{port}"]
            cmd += ["--worker-class", kind, "--workers", str(workers), "--threads", str(threads)]
            procs.append(subprocess.Popen(cmd, cwd=load.ROOT, env=stack.env, start_new_session=True))
            shapes.append((f"{kind} {workers} x {threads} thread(s)", port, [procs[-1].pid]))
            if kind == "sync" and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
                proc, proxy_port = load.nginx_in_front(port, tmp)
                procs.append(proc)
                shapes.append((f"{kind} {workers} x 1 behind nginx", proxy_port, [procs[-2].pid, proc.pid]))
        for _, port, _ in shapes:
            load.wait_until(lambda port=port: load.port_open(port), 60, "web")
        stats = load.Stats()
        clients = {}
        for name, port, pids in shapes:
            browsers = []
            for i in range(args.clients):
                b = load.Browser("127.0.0.1", port, stats)
                _, _, html = b.request("GET", "/accounts/login/", page=False)
                b.request(
                    "POST",
                    "/accounts/login/",
                    {"username": f"load{i:04d}", "password": "pw-" + "x" * 12, "csrfmiddlewaretoken": load.csrf(html)},
                    page=False,
                )
                _, _, course_list = b.request("GET", "/", page=False)
                browsers.append(b)
            clients[name] = (browsers, load.exercise_links(course_list)["identity-block"], pids)
        results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in clients}
        for rnd in range(args.rounds):
            for name, (browsers, path, pids) in clients.items():
                lat: list[float] = []

                def client(b: load.Browser) -> None:
                    for _ in range(args.requests):
                        t = time.perf_counter()
                        b.request("GET", path, page=False)
                        lat.append(time.perf_counter() - t)

                sampler = load.CpuSampler({**stack.roles, **{pid: "web" for pid in pids}})
                t0 = time.perf_counter()
                threads = [threading.Thread(target=client, args=(b,)) for b in browsers]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
                web = sampler.report()["cpu_s_by_component"].get("web", 0.0)
                n = len(lat)
                lat.sort()
                row = (n / wall, 1000 * web / n, 1000 * load.pct(lat, 50), 1000 * load.pct(lat, 95))
                results[name].append(row)
                print(
                    f"round {rnd} {name:30s} {row[0]:6.0f} pages/s  web {row[1]:5.2f} ms/page  "
                    f"p50 {row[2]:5.0f} ms  p95 {row[3]:5.0f} ms",
                    flush=True,
                )
        print("median of the rounds:")
        for name, rows in results.items():
            med = [sorted(r[i] for r in rows)[len(rows) // 2] for i in range(4)]
            print(
                f"  {name:30s} {med[0]:6.0f} pages/s  web {med[1]:5.2f} ms/page  p50 {med[2]:5.0f} ms  p95 {med[3]:5.0f} ms"
                f"  (pages/s by round {[round(r[0]) for r in rows]})"
            )
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
