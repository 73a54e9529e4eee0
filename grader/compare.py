"""Tensor comparison with diagnostics a student can act on (after torch.testing.assert_close).

Comparisons run in the trusted process on tensors rebuilt from raw bytes, so nothing the student's
code does (patched torch functions, odd __eq__, Tensor subclasses) can influence them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class Comparison:
    ok: bool
    message: str
    max_abs_diff: float = float("inf")


def _fmt_index(idx: tuple[int, ...], names: str | None) -> str:
    if names and len(names) == len(idx):
        return ", ".join(f"{n}={i}" for n, i in zip(names, idx))
    return ", ".join(str(i) for i in idx)


def compare(
    actual: torch.Tensor | None,
    expected: torch.Tensor,
    *,
    what: str = "output",
    rtol: float = RTOL,
    atol: float = ATOL,
    dims: str | None = "NCHW",
) -> Comparison:
    """Compare with tolerance; the message says which, how much and where, never just 'assert failed'."""
    if actual is None:
        return Comparison(False, f"The {what} is missing.")
    if tuple(actual.shape) != tuple(expected.shape):
        return Comparison(False, f"The {what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.")
    if actual.dtype != expected.dtype:
        if not actual.dtype.is_floating_point:
            return Comparison(False, f"The {what} has dtype {actual.dtype}, expected {expected.dtype}.")
        actual = actual.to(expected.dtype)
    if actual.numel() == 0:
        return Comparison(True, f"The {what} matches.", 0.0)
    finite = torch.isfinite(actual)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        first = tuple(int(i) for i in (~finite).nonzero()[0].tolist())
        return Comparison(False, f"The {what} has {bad} NaN/inf value(s), the first at [{_fmt_index(first, dims)}].")
    diff = (actual.double() - expected.double()).abs()
    allowed = atol + rtol * expected.double().abs()
    bad_mask = diff > allowed
    max_diff = float(diff.max())
    if not bool(bad_mask.any()):
        return Comparison(True, f"The {what} matches (largest difference {max_diff:.2e}).", max_diff)
    flat = int(diff.argmax())
    idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), diff.shape))
    n_bad = int(bad_mask.sum())
    return Comparison(
        False,
        f"The {what} differs from the expected values in {n_bad} of {diff.numel()} elements; the largest "
        f"difference is {max_diff:.4g} at [{_fmt_index(idx, dims)}] (got {float(actual.flatten()[flat]):.5g}, "
        f"expected {float(expected.flatten()[flat]):.5g}).",
        max_diff,
    )


def close(actual: torch.Tensor | None, expected: torch.Tensor, *, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True when shapes agree and all values are within tolerance (used to match known mistakes)."""
    if actual is None or tuple(actual.shape) != tuple(expected.shape):
        return False
    if actual.numel() == 0:
        return True
    a = actual.double()
    e = expected.double()
    if not bool(torch.isfinite(a).all()):
        return False
    return bool(((a - e).abs() <= atol + rtol * e.abs()).all())
