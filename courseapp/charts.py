"""Server-rendered SVG charts for the pages (no JavaScript, nothing to install): bar charts with
labelled axes, and a result's training curves. Labels are escaped; values are numbers. Rendering
only: views call these; services and selectors never do (.importlinter)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    x_label: str,
    y_label: str,
    title: str,
    width: int = 520,
    height: int = 220,
    colour: str = "#2471a3",
):
    left, right, top, bottom = 48, 12, 24, 48
    n = max(len(values), 1)
    top_v = max(values) if values and max(values) > 0 else 1
    plot_w, plot_h = width - left - right, height - top - bottom
    bw = plot_w / n
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
        f'<text class="x-label" x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="11">{escape(x_label)}</text>',
        f'<text class="y-label" x="12" y="{top + plot_h / 2:.0f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{escape(y_label)}</text>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">{top_v:g}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>',
    ]
    step = max(1, n // 12)
    for i, (label, v) in enumerate(zip(labels, values)):
        h = plot_h * (v / top_v)
        x = left + i * bw
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{escape(label)}: {v:g}</title></rect>'
        )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 13}" text-anchor="middle" font-size="9">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def training_curves_svg(extra: object, width: int = 560, height: int = 240) -> SafeString | str:
    """Server-rendered SVG of the training curves in result.extra["curves"] ({name: [loss per step]}).
    Only numbers and fixed labels reach the SVG, so nothing student-controlled is rendered."""
    curves = extra.get("curves") if isinstance(extra, dict) else None
    if not isinstance(curves, dict) or not curves:
        return ""
    series = {
        str(k): [float(v) for v in vals if isinstance(v, (int, float)) and v >= 0]
        for k, vals in curves.items()
        if isinstance(vals, list)
    }
    series = {k: v for k, v in series.items() if v}
    if not series:
        return ""
    left, right, top, bottom = 48, 110, 12, 34
    steps = max(len(v) for v in series.values())
    top_loss = max(max(v) for v in series.values()) or 1.0
    colours = {"plain": "#c0392b", "residual": "#2471a3"}

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(steps - 1, 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - min(v, top_loss) / top_loss)

    parts = [
        f'<svg class="curves" viewBox="0 0 {width} {height}" role="img" aria-label="Training loss per step">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#555"/>',
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 6}" text-anchor="middle" font-size="12">training step</text>',
        f'<text x="12" y="{(top + height - bottom) / 2:.0f}" font-size="12" transform="rotate(-90 12 {(top + height - bottom) / 2:.0f})" text-anchor="middle">training loss</text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = top_loss * frac
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v:.2f}</text>')
    parts.append(
        f'<text x="{x(steps - 1):.1f}" y="{height - bottom + 14}" text-anchor="end" font-size="11">{steps}</text>'
    )
    for n, (name, vals) in enumerate(sorted(series.items())):
        colour = colours.get(name, "#555")
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{pts}"/>')
        parts.append(
            f'<text x="{width - right + 8}" y="{top + 16 + 18 * n}" font-size="12" fill="{colour}">'
            f"{escape(name)} net (last {vals[-1]:.3f})</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # numbers and fixed labels only (the names are escaped)
