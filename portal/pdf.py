"""User text in ReportLab PDFs. A Paragraph's text is markup: a lone `<` breaks the whole document
(a 500), and `<a href=...>` or `<img src="/etc/passwd">` in a name or a justification would become
a link or embed a file from the server's disk. Every PDF builds its paragraphs here, so every value
is escaped and only the markup written in our own code remains markup."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph

EMPTY = "—"


def escape(value: Any) -> str:
    """The value as text that ReportLab prints literally; empty values print as a dash."""
    text = "" if value is None else str(value)
    return _xml_escape(text) if text else EMPTY


def lines(*values: Any) -> str:
    """Several values, escaped, one per line."""
    return "<br/>".join(escape(value) for value in values)


def text(value: Any, style: ParagraphStyle) -> Paragraph:
    """A paragraph of user (or any) text, printed literally."""
    return Paragraph(escape(value), style)


def markup(template: str, style: ParagraphStyle, **values: Any) -> Paragraph:
    """A paragraph of our own markup with the values escaped in: markup("<b>{name}</b>", ...)."""
    return Paragraph(template.format(**{key: escape(v) for key, v in values.items()}), style)
