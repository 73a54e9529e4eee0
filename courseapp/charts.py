"""Server-rendered SVG bar charts with labelled axes (no JavaScript, nothing to install).
Labels are escaped; values are numbers."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import mark_safe


def bar_chart(labels: list[str], values: list[float], *, x_label: str, y_label: str, title: str,
              width: int = 520, height: int = 220, colour: str = "#2471a3"):
    left, right, top, bottom = 48, 12, 24, 48
    n = max(len(values), 1)
    top_v = max(values) if values and max(values) > 0 else 1
    plot_w, plot_h = width - left - right, height - top - bottom
    bw = plot_w / n
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-size="12" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
             f'<text class="x-label" x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="11">{escape(x_label)}</text>',
             f'<text class="y-label" x="12" y="{top + plot_h / 2:.0f}" font-size="11" text-anchor="middle" '
             f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{escape(y_label)}</text>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">{top_v:g}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>']
    step = max(1, n // 12)
    for i, (label, v) in enumerate(zip(labels, values)):
        h = plot_h * (v / top_v)
        x = left + i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{escape(label)}: {v:g}</title></rect>')
        if i % step == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 13}" text-anchor="middle" font-size="9">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
