"""Helpers for checks of nn.Module exercises (residual blocks). Trusted side only.

The idea that makes feedback specific: for a failing output, compute in the trusted process what
each KNOWN mistake would have produced with the same weights and input, and name the mistake
whose output the student's matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from grader.checklib import Context, RemoteModule, TensorSpec
from grader.compare import close


def randomize_(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Give every parameter and buffer non-default values, so mistakes cannot hide behind defaults
    (gamma = 1, beta = 0, running mean 0 / var 1 make many wrong blocks look right)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.9 + 0.6)  # BN gamma in [0.6, 1.5]
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) * 0.8 + 0.6)
    return module


def spec_of(module: nn.Module) -> tuple[list[TensorSpec], list[TensorSpec]]:
    params = [TensorSpec(n, tuple(p.shape), str(p.dtype).removeprefix("torch.")) for n, p in module.named_parameters()]
    buffers = [TensorSpec(n, tuple(b.shape), str(b.dtype).removeprefix("torch.")) for n, b in module.named_buffers()]
    return params, buffers


def _layout(specs: Sequence[TensorSpec]) -> str:
    return ", ".join(f"{s.name} {list(s.shape)}" for s in specs) or "(none)"


@dataclass
class StructureReport:
    ok: bool
    message: str = ""
    misconceptions: tuple[str, ...] = ()
    # Indices of student parameters that are convolution biases we can zero to keep grading.
    conv_bias_indices: tuple[int, ...] = ()


def compare_structure(student: RemoteModule, reference: nn.Module,
                      diagnose: Callable[[list[TensorSpec], list[TensorSpec]], tuple[str, ...]] | None = None
                      ) -> StructureReport:
    """Do the student's parameters and buffers have the reference's shapes, in registration order?"""
    exp_p, exp_b = spec_of(reference)
    got_p, got_b = student.params, student.buffers

    def shapes(specs: Sequence[TensorSpec]) -> list[tuple[int, ...]]:
        return [s.shape for s in specs]

    bias_idx = tuple(i for i, s in enumerate(got_p)
                     if s.name.endswith("bias") and i > 0 and len(got_p[i - 1].shape) == 4
                     and got_p[i - 1].name.rsplit(".", 1)[0] == s.name.rsplit(".", 1)[0])
    without_bias = [s for i, s in enumerate(got_p) if i not in bias_idx]
    params_ok = shapes(got_p) == shapes(exp_p)
    buffers_ok = shapes(got_b) == shapes(exp_b)
    if params_ok and buffers_ok:
        return StructureReport(True)

    detail = (f"Expected parameters (in registration order): {_layout(exp_p)}.\n"
              f"Yours: {_layout(got_p)}.")
    if not got_p:
        return StructureReport(False, "Your block has no parameters: create its layers in __init__ (after "
                                      "super().__init__()) as attributes, e.g. self.conv1 = nn.Conv2d(...).\n" + detail,
                               ("main_path_wrong",))
    if bias_idx and shapes(without_bias) == shapes(exp_p) and buffers_ok:
        names = ", ".join(got_p[i].name for i in bias_idx)
        return StructureReport(False, f"Your convolutions have bias parameters ({names}).\n{detail}",
                               ("conv_bias",), bias_idx)
    mids: tuple[str, ...] = diagnose(got_p, got_b) if diagnose else ()
    if not mids:
        conv_exp = [s.shape for s in exp_p if len(s.shape) == 4]
        conv_got = [s.shape for s in without_bias if len(s.shape) == 4]
        vec_exp = [s for s in exp_p if len(s.shape) == 1]
        vec_got = [s for s in without_bias if len(s.shape) == 1]
        if params_ok and not got_b and exp_b:
            mids = ("batchnorm_config",)
            detail = ("Your batch norm layers keep no running statistics (track_running_stats=False?).\n"
                      f"Expected buffers: {_layout(exp_b)}.\nYours: (none).")
        elif sorted(shapes(got_p)) == sorted(shapes(exp_p)):
            mids = ("registration_order",)
        elif len(conv_got) == len(conv_exp) and [c[:2] for c in conv_got] == [c[:2] for c in conv_exp] and \
                [c[2:] for c in conv_got] != [c[2:] for c in conv_exp]:
            mids = ("wrong_kernel_size",)
        elif len(vec_got) < len(vec_exp):
            mids = ("batchnorm_missing",)
        elif len(conv_got) != len(conv_exp):
            mids = ("main_path_wrong",)
        else:
            mids = ("registration_order",)
        if bias_idx:
            mids = mids + ("conv_bias",)
    return StructureReport(False, f"Your block's layers do not match the specification.\n{detail}", mids)


def adapted_state(report: StructureReport, reference: nn.Module, student: RemoteModule
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The reference's parameters and buffers in the student's registration order (conv biases zeroed)."""
    ref_params = [p.detach().clone() for p in reference.parameters()]
    params: list[torch.Tensor] = []
    it = iter(ref_params)
    for i, spec in enumerate(student.params):
        params.append(torch.zeros(spec.shape) if i in report.conv_bias_indices else next(it))
    buffers = [b.detach().clone() for b in reference.buffers()]
    return params, buffers


def match_variant(actual: torch.Tensor | None, variants: dict[str, torch.Tensor]) -> str | None:
    """The id of the first known-mistake variant the student's output matches, if any."""
    for mid, expected in variants.items():
        if close(actual, expected, rtol=1e-4, atol=1e-4):
            return mid
    return None


def clone_state(module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    return [p.detach().clone() for p in module.parameters()], [b.detach().clone() for b in module.buffers()]


def structure_or_fail(ctx: Context, student: RemoteModule, reference: nn.Module,
                      diagnose: Callable[[list[TensorSpec], list[TensorSpec]], tuple[str, ...]] | None = None,
                      *, allow_conv_bias: bool = True) -> StructureReport:
    """Used by numeric checks: continue when the state can be copied, otherwise fail with the reason."""
    report = compare_structure(student, reference, diagnose)
    if report.ok or (allow_conv_bias and report.conv_bias_indices and report.misconceptions == ("conv_bias",)):
        return report
    ctx.fail("This check copies the reference's weights into your block, which needs the layers the "
             "specification lists, in that order.\n" + report.message, *report.misconceptions)
