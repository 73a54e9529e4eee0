"""Hidden checks for the ResNet assembly. Trusted: they run in the worker, OUTSIDE the sandbox.

The network is described once (NET) and checked with grader.blocks' families like a block: the
same copied-weights comparisons, over layer specs, widths and image sizes. Two checks of its own
read the network's structure as data: the parameter count and the feature-map size after every
block. Known mistakes live in mistakes/ (one file each) and are named when the student's network
is built, or behaves, like one of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.blocks import Block, Config
from grader.checklib import Context, check

SMALL = Config(([1, 1], 10, 3, 4), shape=(4, 3, 8, 8))  # two stages: one downsampling block
DEEPER = Config(([2, 2, 1], 5, 2, 4), shape=(4, 2, 9, 9))  # identity blocks inside a stage, three stages
RESNET20 = Config(([3, 3, 3],), shape=(2, 3, 32, 32))  # the paper's CIFAR-10 ResNet-20


def logits_shape(config: Config, shape: tuple[int, ...]) -> tuple[int, ...]:
    num_classes = config.args[1] if len(config.args) > 1 else 10
    return (shape[0], num_classes)


NET = Block("make_resnet", default=SMALL, out_shape=logits_shape, what="network")


def expected_maps(config: Config) -> list[list[tuple[int, int, int]]]:
    """(channels, H, W) after every block, stage by stage, as the specification builds them."""
    layers, width = config.args[0], config.args[3] if len(config.args) > 3 else 16
    h, w = config.shape[2:]
    stages = []
    for i, blocks in enumerate(layers):
        if i > 0:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        stages.append([(width * 2**i, h, w)] * blocks)
    return stages


def student_maps(layers: Sequence[dict[str, Any]], shape: tuple[int, ...]) -> list[tuple[int, int, int]] | None:
    """(channels, H, W) after every pair of 3x3 convolutions that follows the stem, read from the
    layers the runner describes; None when the network builds no nn.Conv2d layers to read."""
    convs = [
        e["config"] for e in layers if e["type"] == "Conv2d" and list(e["config"].get("kernel_size", [])) == [3, 3]
    ]
    if not convs:
        return None
    h, w = shape[2:]
    maps = []
    for i, c in enumerate(convs):
        stride, padding = c.get("stride", [1, 1]), c.get("padding", [1, 1])
        if padding == "same":  # PyTorch allows it with stride 1 only
            padding = [1, 1]
        if not (isinstance(stride, list) and isinstance(padding, list) and len(stride) == len(padding) == 2):
            return None  # a configuration this check cannot follow: the numbers judge it
        h, w = (h + 2 * padding[0] - 3) // stride[0] + 1, (w + 2 * padding[1] - 3) // stride[1] + 1
        if i > 0 and i % 2 == 0:
            maps.append((int(c.get("out_channels", 0)), h, w))
    return maps


def _show(maps: Sequence[tuple[int, int, int]]) -> str:
    return ", ".join(f"{c}x{h}x{w}" for c, h, w in maps) or "(no blocks)"


@check("returns (N, num_classes) logits for any layer spec and image size", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    NET.check_output_shape(
        ctx, [Config(([1, 1], 10, 3, 4), shape=(2, 3, 8, 8)), Config(([1, 1, 1], 7, 1, 2), shape=(2, 1, 9, 7))]
    )


@check(
    "feature maps halve and channels double at the start of every stage after the first", points=1, visibility="visible"
)
def feature_maps(ctx: Context) -> None:
    for config in (DEEPER, Config(([1, 2, 2], 10, 3, 8), shape=(2, 3, 16, 16))):
        pair = NET.pair(ctx, config, strict=False, describe=True)
        got, stages = student_maps(pair.student.describe(), config.shape), expected_maps(config)
        want = [m for stage in stages for m in stage]
        if got is not None and got != want:
            _, mids = NET.structure_problem(ctx, pair)
            per_stage = "; ".join(f"stage {i}: {_show(s)}" for i, s in enumerate(stages))
            ctx.fail(
                f"For {pair.label} on a {config.shape[2]}x{config.shape[3]} image, the feature maps after each "
                f"block (channels x H x W) should be {per_stage}.\nYours: {_show(got)}.\nThe first block of every "
                f"stage after the first halves H and W (stride 2) and doubles the channels; all other blocks keep "
                f"them.",
                *(mids or ["main_path_wrong"]),
            )


@check(
    "layers follow the spec: stem, stages with the right strides, channels and shortcuts, linear head",
    points=2,
    visibility="visible",
)
def layer_structure(ctx: Context) -> None:
    NET.check_structure(ctx, [DEEPER, SMALL, Config(([3],), shape=(2, 3, 6, 6))])


@check("has the reference's parameter count (ResNet-20: about 0.27M)", points=1)
def parameter_count(ctx: Context) -> None:
    pair = NET.pair(ctx, RESNET20, strict=False)
    got = sum(math.prod(s.shape) for s in pair.student.params)
    want = sum(p.numel() for p in pair.reference.parameters())
    if got != want:
        message, mids = NET.structure_problem(ctx, pair)
        ctx.fail(
            f"{pair.label} (ResNet-20) has {got:,} parameters; the specification gives {want:,}.\n{message}",
            *(mids or ["main_path_wrong"]),
        )


@check("matches the reference in training mode, for small, large, negative and mixed inputs", points=2)
def matches_train(ctx: Context) -> None:
    NET.check_matches(ctx, [DEEPER], train=True)


@check("matches the reference in evaluation mode and updates the running statistics like it", points=1)
def matches_eval(ctx: Context) -> None:
    NET.check_matches(ctx, [DEEPER], train=False)
    NET.check_running_stats(ctx, DEEPER)


@check("the gradient reaches the input and every parameter learns what the reference's does", points=1)
def gradients(ctx: Context) -> None:
    NET.check_gradients(ctx, DEEPER)


@check("works for batch size 1, tiny and odd image sizes, one stage and four stages", points=1)
def sweep(ctx: Context) -> None:
    NET.check_sweep(
        ctx,
        [
            Config(([1],), shape=(1, 3, 1, 1)),
            Config(([1, 1], 3, 1, 2), shape=(3, 1, 7, 5)),
            Config(([1, 1, 1, 1], 4, 3, 2), shape=(1, 3, 9, 9)),
        ],
    )
