"""Hidden checks for the pre-activation block. Trusted: they run in the worker, OUTSIDE the sandbox.

The block is described once (BLOCK); each check is one of grader.blocks' families configured with
data. Known mistakes live in mistakes/ (one file each), most of them habits carried over from the
original block, and are named when the student's block behaves like one of them.
"""

from __future__ import annotations

from torch import nn

from grader.blocks import Block, Config, strided_shape
from grader.checklib import Context, check

IDENTITY = Config((4, 4), shape=(4, 4, 8, 8))  # x is added as it is
WIDER = Config((4, 8), shape=(4, 4, 7, 7))  # projection of p: the channels change
STRIDED = Config((4, 8, 2), shape=(4, 4, 7, 7))  # projection of p: stride and channels change


def silence_main_path(ref: nn.Module) -> None:
    """conv2's weights at 0: the main path adds exactly 0, so only the shortcut depends on x."""
    ref.conv2.weight.zero_()


# What the module-wide misconceptions mean in this block (the catalogue's hints speak of the conv block).
LESSONS = {
    "stride_on_wrong_conv": (
        "In the pre-activation block the stride sits on conv1 (the first 3x3, which reads p) and on the 1x1 "
        "projection; conv2 keeps stride 1. Both paths then end at {expected}."
    ),
    "shortcut_stride_missing": (
        "The main path produces {expected}: the 1x1 projection of p needs the block's stride, like conv1, or the two "
        "cannot be added."
    ),
}

BLOCK = Block(
    "PreActBlock",
    default=IDENTITY,
    silence=silence_main_path,
    lessons=LESSONS,
    out_shape=strided_shape(channels_arg=1, stride_arg=2, stride_default=1),
)

SHAPE_LESSON = (
    "PreActBlock(in_channels, out_channels, stride) returns out_channels channels and "
    "ceil(H/s) x ceil(W/s): the first 3x3 convolution and the projection carry the stride."
)
IDENTITY_LESSON = (
    "With the last convolution's weights at 0 the main path adds nothing, and because nothing comes "
    "after the addition the block must return x itself, negative values included: the "
    "pre-activation block's identity is exact, not ReLU(x). That clean path is the point of ResNet v2."
)


@check("output has out_channels channels and ceil(H/s) x ceil(W/s)", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    BLOCK.check_output_shape(
        ctx,
        [Config((4, 4), shape=(2, 4, 8, 8)), Config((4, 8, 2), shape=(2, 4, 7, 7)), Config((3, 5), shape=(2, 3, 5, 5))],
        lesson=SHAPE_LESSON,
    )


@check(
    "layers follow the spec (bn1 on the input, conv1, bn2, conv2, a bare 1x1 projection only when needed)",
    points=1,
    visibility="visible",
)
def layer_structure(ctx: Context) -> None:
    BLOCK.check_structure(ctx, [IDENTITY, WIDER, STRIDED, Config((6, 6, 2), shape=(2, 6, 6, 6))])


@check(
    "the identity argument: with conv2 at 0 the block returns x exactly, nothing after the addition",
    points=1,
    visibility="visible",
)
def identity_argument(ctx: Context) -> None:
    BLOCK.check_lecture(
        ctx,
        silence_main_path,
        IDENTITY_LESSON,
        Config((4, 4), shape=(2, 4, 5, 5)),
        expected=lambda x: x,
        fallback="preact_relu_after_add",
    )


@check("matches the reference in training mode, for small, large, negative and mixed inputs", points=2)
def matches_train(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [IDENTITY, STRIDED], train=True)


@check("updates the batch-norm running statistics like the reference", points=1)
def running_stats(ctx: Context) -> None:
    BLOCK.check_running_stats(ctx, STRIDED)


@check("matches the reference in evaluation mode, and gives the same output for the same input", points=1)
def matches_eval(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [IDENTITY, WIDER, STRIDED], train=False)


@check("the gradient reaches the input through the shortcut, and every parameter learns", points=2)
def gradients(ctx: Context) -> None:
    BLOCK.check_gradients(ctx, Config((3, 3), shape=(2, 3, 6, 6)))
    BLOCK.check_gradients(ctx, Config((3, 6, 2), shape=(2, 3, 5, 5)))


@check("works for batch size 1, 1x1 images, odd sizes and other channel counts", points=1)
def small_and_odd_sizes(ctx: Context) -> None:
    BLOCK.check_sweep(
        ctx,
        [
            Config((3, 5, 2), shape=(1, 3, 1, 1)),
            Config((5, 5), shape=(2, 5, 7, 5)),
            Config((2, 6, 2), shape=(3, 2, 9, 9)),
            Config((6, 3), shape=(1, 6, 4, 3)),
            Config((2, 2, 2), shape=(2, 2, 1, 7)),
        ],
    )
