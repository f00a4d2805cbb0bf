"""The oversight report as files an oversight body can keep: CSV (one figure a row) and PDF."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from agencies.tenancy.models import Agency
from portal import pdf
from portal.csv_export import csv_writer

STYLES = getSampleStyleSheet()


def report_rows(report: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(section, item, value) for every figure of the report, in the page's order."""
    rows: list[tuple[str, str, Any]] = [
        ("summary", "cases opened", report["cases_opened"]),
        ("summary", "searches run", report["searches"]),
        ("summary", "searches with a possible lead", report["with_possible_lead"]),
        ("summary", "probes without a face", report["no_face"])]
    rows += [("refusals", str(r["code"] or "unknown"), r["count"]) for r in report["refusals"]]
    rows += [("per month", f"{r['month']:%Y-%m}", r["count"]) for r in report["per_month"]]
    rows += [("per officer", str(r["officer"] or "(removed account)"), r["count"])
             for r in report["per_officer"]]
    rows += [("per offence", r["offence"], r["count"]) for r in report["per_offence"]]
    return rows


def oversight_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(["year", "section", "item", "value"])
    for section, item, value in report_rows(report):
        writer.writerow([report["year"], section, item, value])
    return buffer.getvalue()


def oversight_pdf(report: dict[str, Any], agency: Agency) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4,
                                 title=f"Oversight report {report['year']}")
    rows = [["Section", "Item", "Value"]]
    rows += [[section, pdf.text(item, STYLES["BodyText"]), str(value)]
             for section, item, value in report_rows(report)]
    table = Table(rows, colWidths=[35 * mm, 105 * mm, 30 * mm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf4")),
                               ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    document.build([
        pdf.text(f"Casebound oversight report {report['year']}", STYLES["Title"]),
        pdf.text(f"{agency.name} · all times UTC", STYLES["BodyText"]),
        Spacer(1, 6 * mm), table])
    return buffer.getvalue()
