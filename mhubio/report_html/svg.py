"""Small inline SVG charts (no scripts, no external resources)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(labels: Sequence[str], values: Sequence[float], width: int = 420, bar_height: int = 18) -> str:
    """Horizontal bars with their labels and values."""
    if not values:
        return ""
    top = max(max(values), 1e-12)
    label_width, value_width = 170, 70
    span = width - label_width - value_width
    height = bar_height * len(values) + 4
    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" role="img">']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = index * bar_height + 2
        length = max(1.0, span * value / top) if value > 0 else 0.0
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height - 6}" text-anchor="end">{escape(str(label))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height - 4}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height - 6}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(counts: Sequence[int], low: float, high: float, width: int = 260, height: int = 70) -> str:
    """Bars of ``counts`` over equal bins from ``low`` to ``high``, with the range below."""
    if not counts:
        return ""
    top = max(max(counts), 1)
    plot = height - 14
    step = width / len(counts)
    parts = [f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" role="img">']
    for index, count in enumerate(counts):
        bar = plot * count / top
        parts.append(f'<rect x="{index * step:.1f}" y="{plot - bar:.1f}" width="{max(step - 1, 1):.1f}" '
                     f'height="{bar:.1f}"><title>{count}</title></rect>')
    parts.append(f'<text x="0" y="{height - 2}">{_number(low)}</text>'
                 f'<text x="{width}" y="{height - 2}" text-anchor="end">{_number(high)}</text></svg>')
    return "".join(parts)


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"
