"""Hidden checks for the identity block. Trusted: they run in the worker, OUTSIDE the sandbox.

The block is described once (BLOCK); each check is one of grader.blocks' families configured with
data. Known mistakes live in mistakes/ (one file each) and are named when the student's block
behaves like one of them with the same weights and inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from grader.blocks import Block, Config
from grader.checklib import Context, check


def silence_main_path(ref: nn.Module) -> None:
    """bn2's gamma = 0: the main path's output is the constant beta, so only the shortcut depends on x."""
    ref.bn2.weight.zero_()


def zero_last_layer(ref: nn.Module) -> None:
    """The lecture's W[l+2] = 0, b[l+2] = 0: conv2 and bn2's gamma and beta at 0 give z[l+2] = 0."""
    ref.conv2.weight.zero_()
    ref.bn2.weight.zero_()
    ref.bn2.bias.zero_()


BLOCK = Block("IdentityBlock", default=Config((4,), shape=(4, 4, 8, 8)), silence=silence_main_path)

SHAPE_LESSON = (
    "An identity block must keep (N, C, H, W) so that z[l+2] and a[l] can be added: both convolutions "
    "are 'same' convolutions (padding kernel_size // 2)."
)
IDENTITY_LESSON = (
    "With the last layer's weights and biases at 0 the main path gives z[l+2] = 0, so the lecture's "
    "a[l+2] = g(z[l+2] + a[l]) must give g(a[l]) = ReLU(x): the block can express the identity (on "
    "ReLU outputs) without learning weights of exactly 1."
)


def identity_diagnosis(x: torch.Tensor, out: torch.Tensor) -> str | None:
    """With z[l+2] = 0: x itself (negatives included) means the add is after the ReLU; zeros, no shortcut."""
    if out.shape == x.shape and torch.allclose(out, x, atol=1e-5):
        return "shortcut_after_final_relu"
    return "shortcut_missing" if out.shape == x.shape and float(out.abs().max()) < 1e-6 else None


@check("output keeps the input's shape", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    BLOCK.check_output_shape(ctx, [Config((4,), shape=(2, 4, 8, 8))], lesson=SHAPE_LESSON)


@check("layers follow the spec (conv1, bn1, conv2, bn2, no conv bias) and forward runs", points=1, visibility="visible")
def layer_structure(ctx: Context) -> None:
    BLOCK.check_structure(ctx, [Config((4, 3), shape=(2, 4, 6, 6)), Config((3, 5), shape=(2, 3, 6, 6))])


@check("matches the reference in training mode", points=2)
def matches_train(ctx: Context) -> None:
    BLOCK.check_matches(ctx, train=True)


@check("updates the batch-norm running statistics like the reference", points=1)
def running_stats(ctx: Context) -> None:
    BLOCK.check_running_stats(ctx, Config((4,), shape=(4, 4, 6, 6)))


@check("matches the reference in evaluation mode", points=1)
def matches_eval(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [Config((4,), shape=(3, 4, 8, 8))], train=False)


@check(
    "the identity argument: with bn2's weight and bias at 0 the block returns ReLU(x)", points=1, visibility="visible"
)
def identity_argument(ctx: Context) -> None:
    BLOCK.check_lecture(
        ctx,
        zero_last_layer,
        IDENTITY_LESSON,
        Config((4,), shape=(2, 4, 7, 7)),
        expected=F.relu,
        fallback="identity_needs_unit_weights",
        diagnose=identity_diagnosis,
    )


@check("the gradient reaches the input through the shortcut, and every parameter learns", points=1)
def gradients(ctx: Context) -> None:
    BLOCK.check_gradients(ctx, Config((3,), shape=(2, 3, 6, 6)))


@check("works for kernel sizes 1, 3, 5 and 7", points=1)
def kernel_sizes(ctx: Context) -> None:
    BLOCK.check_sweep(ctx, [Config((3, k), shape=(2, 3, 9, 9)) for k in (1, 3, 5, 7)])


@check("works for batch size 1, 1x1 images and odd sizes", points=1)
def small_and_odd_sizes(ctx: Context) -> None:
    BLOCK.check_sweep(
        ctx,
        [
            Config((2,), shape=(1, 2, 1, 1)),
            Config((2,), shape=(1, 2, 5, 5)),
            Config((2,), shape=(3, 2, 7, 5)),
            Config((5, 3), shape=(2, 5, 1, 9)),
        ],
    )
