"""The limits one grade runs under, and how to size them to the work.

An exercise's TOML gives ceilings ([limits] wall_s, cpu_s, memory_mb). The service can grade under
tighter limits derived from what the exercise's own reference costs to grade (`propose_limits`, fed
by grader.engine.measure_reference_cost), so a spinning submission is stopped after about a second
of CPU, not after the TOML's twenty: each limit is max(floor, multiple x the reference's cost), never
above the TOML value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


class _TomlLimits(Protocol):  # grader.exercise.Limits, read only
    @property
    def wall_s(self) -> float: ...

    @property
    def cpu_s(self) -> float: ...

    @property
    def memory_mb(self) -> int: ...


# Floors: what a fresh sandbox on a loaded machine may need whatever the reference costs.
WALL_FLOOR_S = 5.0
CPU_FLOOR_S = 3.0
STEP_CPU_FLOOR_S = 1.0
MULTIPLE = 10.0


@dataclass(frozen=True)
class JobLimits:
    wall_s: float  # the whole grade, every check
    cpu_s: float  # CPU time of the sandbox's pid 1 over the whole grade (RLIMIT_CPU)
    memory_mb: int  # above the warm baseline (RLIMIT_AS, and the sandbox's cgroup with some slack)
    step_cpu_s: float = 0.0  # CPU time one command (one step of a check) may use, all processes; 0: no such limit

    @classmethod
    def of(cls, toml: _TomlLimits) -> "JobLimits":
        """The TOML's ceilings as they are (no per-step limit: that needs a measured reference)."""
        return cls(wall_s=float(toml.wall_s), cpu_s=float(toml.cpu_s), memory_mb=int(toml.memory_mb))

    def within(self, toml: _TomlLimits) -> "JobLimits":
        """These limits, each capped by the exercise's TOML value (a stored limit can never loosen it)."""
        cpu = min(self.cpu_s, float(toml.cpu_s))
        return JobLimits(
            wall_s=min(self.wall_s, float(toml.wall_s)),
            cpu_s=cpu,
            memory_mb=min(self.memory_mb, int(toml.memory_mb)),
            step_cpu_s=min(self.step_cpu_s, cpu) if self.step_cpu_s > 0 else 0.0,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "JobLimits":
        return cls(
            wall_s=float(data["wall_s"]),
            cpu_s=float(data["cpu_s"]),
            memory_mb=int(data["memory_mb"]),
            step_cpu_s=float(data.get("step_cpu_s", 0.0)),
        )


@dataclass(frozen=True)
class ReferenceCost:
    """What grading the reference took (the slowest of a few warm runs)."""

    wall_s: float
    cpu_s: float
    step_s: float  # the slowest single command


def propose_limits(
    toml: _TomlLimits,
    cost: ReferenceCost,
    *,
    multiple: float = MULTIPLE,
    wall_floor_s: float = WALL_FLOOR_S,
    cpu_floor_s: float = CPU_FLOOR_S,
    step_floor_s: float = STEP_CPU_FLOOR_S,
) -> JobLimits:
    """max(floor, multiple x cost) for each limit, capped by the TOML value; memory stays the TOML's."""
    cpu = min(float(toml.cpu_s), max(cpu_floor_s, multiple * cost.cpu_s))
    return JobLimits(
        wall_s=min(float(toml.wall_s), max(wall_floor_s, multiple * cost.wall_s)),
        cpu_s=cpu,
        memory_mb=int(toml.memory_mb),
        step_cpu_s=min(cpu, max(step_floor_s, multiple * cost.step_s)),
    )
