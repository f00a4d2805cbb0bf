"""The disclosure report of a search: what a prosecutor and the defence are entitled to see."""

from __future__ import annotations

import io
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from portal import pdf
from portal.http import attachment
from search.models import Candidate, Search
from search.selectors import candidates_of, weak_candidates_of
from search.serializers import LEAD_NOTICE
from search.services.cases import case_audit_details

STYLES = getSampleStyleSheet()
GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                   ("VALIGN", (0, 0), (-1, -1), "TOP"),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf4"))])


def _text(value: Any) -> Paragraph:
    return pdf.text(value, STYLES["BodyText"])


def _lines(*values: Any) -> Paragraph:
    return Paragraph(pdf.lines(*values), STYLES["BodyText"])


def _image(field: Any, size: float) -> Any:
    if not field:
        return _text("(image removed)")
    with field.open("rb") as handle:
        return Image(io.BytesIO(handle.read()), width=size, height=size)


def _facts(search: Search) -> Table:
    case = search.case
    rows = [
        ("Case", f"{case.case_number} ({case.get_offence_category_display()})"),
        ("Justification", case.justification), ("Authorization", case.authorization_reference),
        ("Approved by", f"{case.decided_by} on {case.decided_at:%Y-%m-%d %H:%M} UTC"
         if case.decided_by and case.decided_at else "—"),
        ("Search", f"#{search.pk} by {search.requested_by} on {search.created_at:%Y-%m-%d %H:%M} UTC"),
        ("Outcome", f"{search.get_status_display()}; {search.faces_found or 0} face(s) in the probe"
         + (f"; face {search.face_index + 1} (largest first) searched"
            if (search.faces_found or 0) > 1 and search.face_index is not None else "")),
        ("Model", search.model_name), ("Policy in force", _policy_text(search.policy)),
        ("The line", _line_text(search)),
    ]
    table = Table([[_text(k), _text(v)] for k, v in rows], colWidths=[40 * mm, 130 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    return table


def _score_text(candidate: Any) -> str:
    """The normalized score the line is drawn on, then the raw similarity."""
    similarity = f"similarity {candidate.similarity:.3f}"
    return similarity if candidate.score is None else f"score {candidate.score:.2f}, {similarity}"


def _line_text(search: Search) -> str:
    """How the line was drawn: target, gallery size and the score (named) that followed."""
    if search.target_false_match_rate is None:  # searches run before the calibrated line
        return f"similarity threshold {search.threshold:.2f}" if search.threshold else "—"
    return (f"target false-match rate {search.target_text} in a gallery of {search.gallery_size} "
            f"faces: {search.line_text}")


def _policy_text(policy: dict[str, Any]) -> str:
    if not policy:
        return "—"
    line = (f"target false-match rate {policy['target_false_match_rate'] * 100:g}%"
            if "target_false_match_rate" in policy
            else f"threshold {policy['similarity_threshold']:.2f}")
    return (f"{line}; at most {policy['max_candidates']} "
            f"candidates; authorizations last {policy['authorization_days']} days; allowed offences: "
            f"{', '.join(policy['allowed_offences'])}")


def _reviews(candidate: Candidate) -> Paragraph:
    lines = [f"{r.get_decision_display()} by {r.reviewer.username}, {r.created_at:%Y-%m-%d %H:%M} UTC"
             for r in candidate.reviews.all()]
    return _lines(*lines) if lines else _text("No review")


def _candidates(search: Search) -> Table | Paragraph:
    rows: list[list[Any]] = [[_text(h) for h in ("Rank", "Face", "Subject / gallery",
                                                 "Score, similarity, band, stranger this high",
                                                 "Status", "Decisions")]]
    # The weak ones too (kept only when none passed the line): anyone on the case could open them.
    for c in [*candidates_of(search=search), *weak_candidates_of(search=search)]:
        face, subject = c.shown_face, c.shown_subject
        named = f"{subject.reference} {subject.display_name}" if subject else "removed"
        rows.append([_text(c.rank), _image(face.image if face else None, 22 * mm),
                     _lines(named, c.gallery.name if c.gallery else ""),
                     _lines(_score_text(c), c.get_band_display(), c.false_match_text),
                     _text(c.get_status_display()), _reviews(c)])
    if len(rows) == 1:
        return _text("No candidate above the line.")
    table = Table(rows, colWidths=[14 * mm, 26 * mm, 40 * mm, 20 * mm, 28 * mm, 48 * mm],
                  repeatRows=1)
    table.setStyle(GRID)
    return table


def disclosure_pdf(search: Search, generated_by: Any) -> bytes:
    """Render the report: case, probe, every candidate shown, every decision, the policy."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"Casebound disclosure, search {search.pk}",
                                 leftMargin=18 * mm, rightMargin=18 * mm)
    story = [
        Paragraph("Face search disclosure report", STYLES["Title"]),
        pdf.markup("<b>Investigative lead, not an identification.</b> {notice}", STYLES["BodyText"],
                   notice=LEAD_NOTICE),
        Spacer(1, 4 * mm), _facts(search), Spacer(1, 4 * mm),
        Paragraph("Probe (the face that was searched)", STYLES["Heading3"]),
        _image(search.probe_face, 35 * mm), Spacer(1, 4 * mm),
        Paragraph("Every candidate shown", STYLES["Heading3"]), _candidates(search),
        Spacer(1, 6 * mm),
        pdf.text(f"Generated {timezone.now():%Y-%m-%d %H:%M} UTC by {generated_by}.", STYLES["Italic"]),
    ]
    document.build(story)
    return buffer.getvalue()


def disclosure_response(search: Search, user: Any) -> HttpResponse:
    """The PDF as a download; the export is audited."""
    pdf = disclosure_pdf(search, user.get_username())
    audit_record(action=AuditAction.EXPORT, agency=search.agency, actor=user, obj=search,
                 details=case_audit_details(search.case, export="disclosure_pdf",
                                            search_id=search.pk))
    return attachment(pdf, content_type="application/pdf",
                      filename=f"casebound-search-{search.pk}.pdf")
