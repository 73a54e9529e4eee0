"""What a constructed module is made of, as plain data (JSON-able), for structure checks.

Used on both sides: the runner describes the student's module inside the sandbox, the trusted side
describes the reference and each known mistake the same way, so the two lists compare directly.
The trusted side validates the student's copy field by field (grader.protocol) before reading it.
"""

from __future__ import annotations

from typing import Any

# Configuration attributes that decide what a layer computes (read when the module has them).
LAYER_ATTRS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
    "num_features",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "in_features",
    "out_features",
    "output_size",
    "inplace",
    "negative_slope",
    "p",
)
MAX_LAYERS = 512


def _plain(value: Any) -> Any:
    """An attribute as JSON data (ints, floats, bools, strings, flat lists of those), or None."""
    if isinstance(value, (bool, int, str)) or value is None:
        return value if not isinstance(value, str) else value[:40]
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, (tuple, list)) and len(value) <= 8:
        items = [_plain(v) for v in value]
        return items if all(isinstance(i, (bool, int, float, str)) for i in items) else None
    return None


def describe_module(module: Any) -> list[dict[str, Any]]:
    """One entry per submodule, in registration order (the module itself first, name ""): its name,
    class name, the names of the parameters and buffers it owns directly, whether it has a bias,
    and its layer configuration (kernel size, stride, padding, channels, eps, momentum, ...)."""
    layers: list[dict[str, Any]] = []
    for name, sub in module.named_modules():
        if len(layers) >= MAX_LAYERS:
            break
        entry: dict[str, Any] = {
            "name": str(name)[:200],
            "type": type(sub).__name__[:100],
            "params": [str(n)[:100] for n, _ in sub.named_parameters(recurse=False)],
            "buffers": [str(n)[:100] for n, _ in sub.named_buffers(recurse=False)],
        }
        config = {}
        for attr in LAYER_ATTRS:
            if attr in sub.__dict__ or hasattr(type(sub), "__constants__") and attr in type(sub).__constants__:
                value = _plain(getattr(sub, attr, None))
                if value is not None or attr == "momentum":
                    config[attr] = value
        if "bias" in entry["params"] or "weight" in entry["params"] and hasattr(sub, "bias"):
            config["bias"] = getattr(sub, "bias", None) is not None
        entry["config"] = config
        layers.append(entry)
    return layers
