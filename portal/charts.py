"""Bar charts drawn by the templates (partials/bar_chart.html), without JavaScript."""

from __future__ import annotations

from typing import Any


def bars(values: list[tuple[str, float]], height: int = 120) -> list[dict[str, Any]]:
    """Bar geometry for a server-drawn SVG chart (no script, nothing from a CDN)."""
    top = max([v for _, v in values] or [1]) or 1
    width = 36
    return [{"label": label, "value": value, "x": i * (width + 8), "width": width,
             "height": round(height * value / top), "y": height - round(height * value / top)}
            for i, (label, value) in enumerate(values)]
