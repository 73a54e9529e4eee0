"""Hidden checks for the bottleneck block. Trusted: they run in the worker, OUTSIDE the sandbox.

The block is described once (BLOCK); each check is one of grader.blocks' families configured with
data. Known mistakes live in mistakes/ (one file each) and are named when the student's block
behaves like one of them with the same weights and inputs.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from grader.blocks import Block, Config, strided_shape
from grader.checklib import Context, check

# The three kinds of block a ResNet-50 uses: identity shortcut; projection because the channels
# change (the first block of a stage, stride 1); projection because stride and channels change.
IDENTITY = Config((16, 4), shape=(4, 16, 8, 8))
WIDER = Config((8, 4), shape=(4, 8, 7, 7))
STRIDED = Config((8, 4, 2), shape=(4, 8, 7, 7))


def silence_main_path(ref: nn.Module) -> None:
    """bn3's gamma = 0: the main path's output is the constant beta, so only the shortcut depends on x."""
    ref.bn3.weight.zero_()


def zero_last_layer(ref: nn.Module) -> None:
    """The lecture's W[l+2] = 0, b[l+2] = 0 for the last layer: conv3, and bn3's gamma and beta."""
    ref.conv3.weight.zero_()
    ref.bn3.weight.zero_()
    ref.bn3.bias.zero_()


# What the module-wide misconceptions mean in this block (the catalogue's hints speak of the conv block).
LESSONS = {
    "projection_without_bn": (
        "In the bottleneck block W_s is a 1x1 convolution (Cin -> 4 * width, with the block's stride) followed by its "
        "own BatchNorm2d(4 * width), just as the main path ends with bn3: both summands are normalised before the add."
    ),
    "shortcut_stride_missing": (
        "The main path produces {expected}: the projection's 1x1 convolution needs the block's stride, like the 3x3 "
        "convolution (conv2), or the two cannot be added."
    ),
}

BLOCK = Block(
    "BottleneckBlock",
    default=IDENTITY,
    silence=silence_main_path,
    lessons=LESSONS,
    out_shape=strided_shape(channels_arg=1, stride_arg=2, stride_default=1, channels_factor=4),
)

SHAPE_LESSON = (
    "BottleneckBlock(in_channels, width, stride) returns 4 * width channels and ceil(H/s) x ceil(W/s): "
    "the last 1x1 convolution expands the channels four times, the 3x3 convolution carries the stride."
)
IDENTITY_LESSON = (
    "With the last layer's weights and biases at 0 the main path gives z = 0, so a block whose "
    "shortcut is the identity must return g(a[l]) = ReLU(x): a bottleneck block can fall back to the "
    "identity just like the basic block."
)
PROJECTION_LESSON = (
    "With the main path silenced the block must return ReLU(W_s x): when only the number of "
    "channels changes (stride 1), x still cannot be added as it is and the shortcut must project it."
)


@check("output has 4 * width channels and ceil(H/s) x ceil(W/s)", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    BLOCK.check_output_shape(
        ctx, [Config((16, 4), shape=(2, 16, 8, 8)), Config((6, 2, 2), shape=(2, 6, 7, 5))], lesson=SHAPE_LESSON
    )


@check(
    "layers follow the spec (1x1, 3x3 with the stride, 1x1 x4, projection only when the shape changes)",
    points=1,
    visibility="visible",
)
def layer_structure(ctx: Context) -> None:
    BLOCK.check_structure(ctx, [IDENTITY, WIDER, Config((16, 4, 2), shape=(2, 16, 6, 6)), STRIDED])


@check("matches the reference in training mode, for small, large, negative and mixed inputs", points=2)
def matches_train(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [IDENTITY, STRIDED], train=True)


@check("updates the batch-norm running statistics like the reference (all four batch norms)", points=1)
def running_stats(ctx: Context) -> None:
    BLOCK.check_running_stats(ctx, STRIDED)


@check("matches the reference in evaluation mode, and gives the same output for the same input", points=1)
def matches_eval(ctx: Context) -> None:
    BLOCK.check_matches(ctx, [IDENTITY, STRIDED], train=False)


@check("the identity argument: with the last layer at 0 the block returns ReLU(x)", points=1, visibility="visible")
def identity_argument(ctx: Context) -> None:
    BLOCK.check_lecture(
        ctx,
        zero_last_layer,
        IDENTITY_LESSON,
        Config((16, 4), shape=(2, 16, 5, 5)),
        expected=F.relu,
        fallback="identity_needs_unit_weights",
    )


@check(
    "a block that only widens the channels projects its shortcut: ReLU(W_s x) when the main path is silent", points=1
)
def projection_argument(ctx: Context) -> None:
    BLOCK.check_lecture(
        ctx, silence_main_path, PROJECTION_LESSON, WIDER, fallback="bottleneck_identity_when_shape_changes"
    )


@check("the gradient reaches the input through the shortcut, and every parameter learns", points=1)
def gradients(ctx: Context) -> None:
    BLOCK.check_gradients(ctx, Config((16, 4), shape=(2, 16, 6, 6)))
    BLOCK.check_gradients(ctx, Config((8, 4, 2), shape=(2, 8, 5, 5)))


@check("works for batch size 1, 1x1 images, odd sizes and other widths", points=1)
def small_and_odd_sizes(ctx: Context) -> None:
    BLOCK.check_sweep(
        ctx,
        [
            Config((3, 2, 2), shape=(1, 3, 1, 1)),
            Config((5, 3, 2), shape=(2, 5, 7, 5)),
            Config((4, 1, 2), shape=(1, 4, 6, 3)),
            Config((2, 2, 1), shape=(2, 2, 1, 7)),
        ],
    )
