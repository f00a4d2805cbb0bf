"""Invoices as PDF and CSV, from the same rows the API serves."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from agencies.billing.models import Invoice
from portal import pdf
from portal.csv_export import csv_writer

STYLES = getSampleStyleSheet()


def invoice_csv(invoice: Invoice) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(["invoice", "period", "description", "quantity", "unit_price", "amount",
                     "currency"])
    for line in invoice.lines.all():
        writer.writerow([invoice.number, f"{invoice.period:%Y-%m}", line.description,
                         line.quantity.normalize(), line.unit_price.normalize(), line.amount,
                         invoice.currency])
    writer.writerow([invoice.number, f"{invoice.period:%Y-%m}", "TOTAL", "", "", invoice.total,
                     invoice.currency])
    return buffer.getvalue()


def invoice_pdf(invoice: Invoice) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"Invoice {invoice.number}")
    rows = [["Description", "Quantity", "Unit price", f"Amount ({invoice.currency})"]]
    rows += [[pdf.text(line.description, STYLES["BodyText"]), str(line.quantity.normalize()),
              str(line.unit_price.normalize()), str(line.amount)] for line in invoice.lines.all()]
    rows.append(["Total", "", "", str(invoice.total)])
    table = Table(rows, colWidths=[90 * mm, 25 * mm, 25 * mm, 30 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf4")),
                               ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                               ("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    document.build([
        pdf.text(f"Casebound invoice {invoice.number}", STYLES["Title"]),
        pdf.text(f"{invoice.agency.name} · period {invoice.period:%B %Y} · issued "
                 f"{invoice.issued_at:%Y-%m-%d}", STYLES["BodyText"]),
        Spacer(1, 6 * mm), table])
    return buffer.getvalue()
