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


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above `value` (at least 1): a y axis that reads well."""
    step = 1.0
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def column_chart(values: list[tuple[str, float]], *, height: int = 160, bar: int = 18,
                 gap: int = 4, left: int = 44, text: int = 10,
                 top: float | None = None, slots: int = 0) -> dict[str, Any]:
    """Geometry of a column chart with a y axis (0, half, top), a labelled x axis and each
    non-zero value written above its column; the template draws it as SVG (no script). `text`
    is the size of its lettering (the CSS of the figure sets the same), `top` a shared scale and
    `slots` a width in columns when the values fill fewer (a short last row)."""
    top = top or _nice_top(max([v for _, v in values] or [0]))
    plot_top = text + 6
    bottom = plot_top + height

    def y(value: float) -> float:
        return round(bottom - height * value / top, 1)

    columns = [{"label": label, "value": value, "shown": f"{value:g}",
                "x": left + i * (bar + gap), "width": bar, "y": y(value),
                "height": round(bottom - y(value), 1), "middle": left + i * (bar + gap) + bar / 2,
                "value_y": y(value) - 3}
               for i, (label, value) in enumerate(values)]
    # Counts have no halves: the middle line only where it is a whole number.
    ticks = [{"value": f"{t:g}", "y": y(t)} for t in (0, top / 2, top) if t == int(t)]
    width = left + max(len(values), slots) * (bar + gap) + gap
    return {"columns": columns, "ticks": ticks, "width": width, "height": bottom + 2 * text + 14,
            "left": left, "bottom": bottom, "plot_top": plot_top, "tick_x": left - 6,
            "label_y": bottom + text + 3, "title_y": bottom + 2 * text + 11, "text": text,
            "first": values[0][0] if values else "", "last": values[-1][0] if values else ""}


def column_chart_rows(values: list[tuple[str, float]], *, per_row: int,
                      **kwargs: Any) -> list[dict[str, Any]]:
    """The same chart cut into rows of `per_row` columns on one shared scale: on a phone a
    month of days drawn in one row shrinks to lettering no one can read."""
    top = _nice_top(max([v for _, v in values] or [0]))
    return [column_chart(values[start:start + per_row], top=top, slots=per_row, **kwargs)
            for start in range(0, len(values), per_row)]
