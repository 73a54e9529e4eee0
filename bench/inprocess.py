"""The benchmark's floor: the same checks and the same runner commands, in this process, no sandbox.

For measuring only (bench/grading.py). It is deliberately NOT in grader/: the service and the CLI
always grade through grader.sandbox.pool.SandboxPool.
"""

from __future__ import annotations

from typing import Any

from grader.inside import runner
from grader.sandbox.pool import StudentError


class _NoOutput:
    def text(self, wait_s: float = 0.0) -> str:
        return ""

    def text_so_far(self, wait_s: float = 0.0) -> str:
        return ""


class InProcessChild:
    def __init__(self, device: str = "cpu") -> None:
        self.state = runner.new_state(device)
        self.ready = {"ready": True, "isolated": False, "device": device}
        self.output = _NoOutput()
        self.dead = False
        self.step_cpu_s = 0.0  # what the engine sets and reads on a sandbox session (grader/sandbox/session.py)
        self.max_step_s = 0.0

    @property
    def isolated(self) -> bool:
        return False

    def call(
        self, op: str, header: dict[str, Any] | None = None, blobs: list[bytes] | None = None, *, deadline: float
    ) -> tuple[dict[str, Any], list[bytes]]:
        req = dict(header or {})
        req.pop("limits", None)  # never limit the benchmark process itself
        req["op"] = op
        reply, out = runner.handle(self.state, req, blobs or [])
        if not reply.get("ok", False):
            raise StudentError(reply.get("error") or {})
        return reply, out

    def usage(self) -> dict[str, float]:
        return {"cpu_s": 0.0, "peak_rss_mb": 0.0}


class InProcessPool:
    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def start(self) -> None:
        pass

    def acquire(self) -> InProcessChild:
        return InProcessChild(self.device)

    def release(self, child: InProcessChild) -> None:
        pass

    def close(self) -> None:
        pass
