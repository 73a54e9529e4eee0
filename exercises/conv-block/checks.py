"""Hidden checks for the conv block (projection shortcut W_s). Trusted: they run in the worker,
OUTSIDE the sandbox.

The block is described once (BLOCK); each check is one of grader.blocks' families configured with
data. Known mistakes live in mistakes/ (one file each) and are named when the student's block
behaves like one of them with the same weights and inputs (same numbers, same shape, or the same
crash); LESSONS adds what each named mistake means for this block.
"""

from __future__ import annotations

from torch import nn

from grader.blocks import Block, Config, strided_shape
from grader.checklib import Context, check


def silence_main_path(ref: nn.Module) -> None:
    """bn2's gamma = 0: the main path's output no longer depends on x; only W_s carries it."""
    ref.bn2.weight.zero_()


def zero_main_path(ref: nn.Module) -> None:
    """bn2's gamma and beta at 0: z[l+2] = 0, so the block must return g(W_s a[l])."""
    ref.bn2.weight.zero_()
    ref.bn2.bias.zero_()


LESSONS = {
    "projection_missing": (
        "The main path turns x of shape {shape} into {expected}, so x itself cannot be added to it: the shapes "
        "differ. The conv block's shortcut always projects x with W_s, a 1x1 convolution from Cin to Cout channels "
        "with the block's stride, followed by batch norm: a[l+2] = g(z[l+2] + W_s a[l]) (even when the shape does "
        "not change: the block that adds x unchanged is the identity block, a different exercise)."
    ),
    "shortcut_stride_missing": (
        "The main path produces {expected}, but a shortcut with stride 1 keeps H x W = {shape}, so the two cannot "
        "be added: W_s's 1x1 convolution needs the block's stride, like conv1."
    ),
    "stride_on_wrong_conv": (
        "Both paths must end at {expected}: the main path downsamples once, in conv1 (conv2 has stride 1), exactly "
        "as the shortcut does in its 1x1 convolution."
    ),
    "stride_ignored": (
        "With stride s the block must return (N, Cout, ceil(H/s), ceil(W/s)) = {expected}: the stride goes on conv1 "
        "and on W_s's 1x1 convolution."
    ),
    "wrong_padding": (
        "Without padding=1 a 3x3 convolution shrinks H and W, so the main path no longer has the shortcut's shape "
        "{expected}."
    ),
    "pooling_instead_of_stride": (
        "Pooling shrinks odd sizes differently from a strided convolution (floor instead of ceil) and computes "
        "something else: both paths must downsample by striding their first convolution, to {expected}."
    ),
}

BLOCK = Block(
    "ConvBlock",
    default=Config((4, 8), shape=(4, 4, 8, 8)),
    out_shape=strided_shape(channels_arg=1, stride_arg=2, stride_default=2),
    silence=silence_main_path,
    lessons=LESSONS,
)

SHAPE_LESSON = (
    "With stride s, both the main path (conv1) and the shortcut W_s give ceil(H/s) x ceil(W/s), with "
    "Cout channels, so that the two can be added."
)
PROJECTION_LESSON = (
    "With bn2's weight and bias at 0 the main path contributes z[l+2] = 0, so the block must return "
    "g(W_s a[l]) = ReLU(BN_s(conv_1x1(x))): the input, projected to the new shape by the shortcut "
    "alone."
)


@check("output has shape (N, Cout, ceil(H/s), ceil(W/s))", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    BLOCK.check_output_shape(
        ctx,
        [
            Config((4, 8), shape=(2, 4, 8, 8)),
            Config((3, 6, 2), shape=(1, 3, 7, 5)),
            Config((4, 6, 1), shape=(2, 4, 5, 5)),
        ],
        lesson=SHAPE_LESSON,
    )


@check(
    "layers follow the spec (conv1, bn1, conv2, bn2, 1x1 shortcut conv, shortcut bn; no conv bias) and forward runs",
    points=1,
)
def layer_structure(ctx: Context) -> None:
    BLOCK.check_structure(
        ctx,
        [
            Config((4, 8, 2), shape=(2, 4, 6, 6)),
            Config((3, 5, 1), shape=(2, 3, 6, 6)),
            Config((4, 4, 1), shape=(2, 4, 6, 6)),
        ],
    )


@check("matches the reference in training mode (stride 2, 4 -> 8 channels)", points=2)
def matches_train(ctx: Context) -> None:
    BLOCK.check_matches(ctx, train=True)


@check("matches the reference in evaluation mode", points=1)
def matches_eval(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [Config((4, 8), shape=(3, 4, 8, 8))], train=False)


@check("updates all three batch norms' running statistics like the reference", points=1)
def running_stats(ctx: Context) -> None:
    BLOCK.check_running_stats(ctx, Config((3, 6, 2), shape=(4, 3, 6, 6)))


@check("the projection: with the main path silenced the block returns g(W_s a[l])", points=1, visibility="visible")
def projection_argument(ctx: Context) -> None:
    BLOCK.check_lecture(ctx, zero_main_path, PROJECTION_LESSON, Config((3, 6, 2), shape=(2, 3, 7, 7)))


@check("works for stride 1, with and without a channel change", points=1)
def stride_one(ctx: Context) -> None:
    BLOCK.check_sweep(ctx, [Config((3, 6, 1), shape=(2, 3, 7, 7)), Config((4, 4, 1), shape=(2, 4, 5, 6))])


@check("works for odd sizes, 1x1 images, batch size 1 and stride 3", points=1)
def odd_sizes(ctx: Context) -> None:
    BLOCK.check_sweep(
        ctx,
        [
            Config((2, 4, 2), shape=(3, 2, 7, 5)),
            Config((2, 4, 2), shape=(1, 2, 1, 1)),
            Config((2, 4, 2), shape=(2, 2, 1, 9)),
            Config((3, 5, 3), shape=(2, 3, 8, 7)),
        ],
    )


@check("the gradient reaches the input through the main path and the shortcut", points=1)
def gradient_paths(ctx: Context) -> None:
    BLOCK.check_gradients(ctx, Config((3, 6, 2), shape=(2, 3, 6, 6)))
