"""User text in exported files is data, never markup or a formula: ReportLab markup in PDFs (a
500, links, embedded local files) and spreadsheet formulas in CSV files (CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from django.utils import timezone
from pypdf import PdfReader

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.billing.models import Invoice, InvoiceLine
from agencies.tenancy.permissions import SYSTEM
from portal.csv_export import neutralise
from search.models import Candidate, EnrollmentBatch, EnrollmentItem, Search, SearchStatus
from search.services.enrollment import face_enroll
from tests import photos
from tests.factories import GalleryFactory, UserFactory, assigned_case
from tests.fixtures import api_client, web_client

LINK = '<a href="https://evil.example/">click</a>'
LOCAL_FILE = '<img src="/etc/passwd"/>'
LONE = "5 < 7 & x"
FORMULAS = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+2", "-3+4", "@SUM(A1)", "\tcmd", "\rcmd"]


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def _links_and_images(content: bytes) -> int:
    reader = PdfReader(io.BytesIO(content))
    found = 0
    for page in reader.pages:
        found += len(page.get("/Annots") or [])
        found += len(page.images)
    return found


def _search_with_markup(cast) -> Search:
    gallery = GalleryFactory(agency=cast.agency, name=f"Gallery {LINK}")
    face = face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="BK-1", display_name=LOCAL_FILE,
                       image=photos.photo("Colin_Powell", 0))
    case = assigned_case(cast.agency, cast.officer, justification=f"Robbery {LONE} {LINK}")
    search = Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer, probe="",
                                   status=SearchStatus.DONE, faces_found=1)
    Candidate.objects.create(agency=cast.agency, search=search, face=None, subject=face.subject,
                             gallery=gallery, rank=1, similarity=0.95)
    return search


def test_the_disclosure_report_prints_markup_in_user_text_literally(cast) -> None:
    search = _search_with_markup(cast)
    response = api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/disclosure.pdf")
    assert response.status_code == 200, response.content[:300]
    text = _pdf_text(response.content)
    assert LONE in text and 'href="https://evil.example/"' in text
    assert 'src="/etc/passwd"' in text
    assert _links_and_images(response.content) == 0  # no link, and the removed face has no image


def test_an_invoice_prints_markup_literally_and_its_csv_has_no_formula(cast) -> None:
    cast.agency.name = f"North {LINK}"
    cast.agency.save()
    invoice = Invoice.objects.create(agency=cast.agency, number="INV-X-1", period=date(2026, 1, 1),
                                     currency="USD", total=Decimal("1.00"), issued_at=timezone.now())
    for description in (LOCAL_FILE, LONE, *FORMULAS):
        InvoiceLine.objects.create(invoice=invoice, description=description, quantity=1,
                                   unit_price=Decimal("1"), amount=Decimal("1.00"))
    client = api_client(cast.admin)
    pdf = client.get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert pdf.status_code == 200
    text = _pdf_text(pdf.content)
    assert LONE in text and 'src="/etc/passwd"' in text and "evil.example" in text
    assert _links_and_images(pdf.content) == 0
    rows = list(csv.reader(io.StringIO(client.get(f"/api/v1/invoices/{invoice.pk}/csv/").content.decode())))
    descriptions = sorted(row[2] for row in rows[1:-1])
    assert descriptions == sorted([LOCAL_FILE, LONE, *("'" + formula for formula in FORMULAS)])
    assert rows[-1][-2] == "1.00"  # numbers stay numbers


def test_the_audit_export_neutralises_formulas(cast) -> None:
    for n, formula in enumerate(FORMULAS):
        actor = UserFactory(username=f"{formula}{n}")
        audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.agency, actor=actor)
    response = web_client(cast.auditor).get("/audit/export.csv")
    assert response["Cache-Control"] == "private, no-store"  # no cache keeps an audit export
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    actors = [row[2] for row in rows[1:] if row[3] == AuditAction.SETTINGS_CHANGED]
    assert actors == [f"'{formula}{n}" for n, formula in enumerate(FORMULAS)]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_the_batch_error_report_neutralises_formulas(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    batch = EnrollmentBatch.objects.create(agency=cast.agency, gallery=gallery, archive="x.zip",
                                           archive_sha256="0" * 64, created_by=cast.admin)
    for formula in FORMULAS:
        EnrollmentItem.objects.create(agency=cast.agency, batch=batch, file_name=f"{formula}.jpg",
                                      subject_reference=formula, status="failed",
                                      error_code="not_an_image", error=formula)
    response = web_client(cast.admin).get(f"/batches/{batch.pk}/errors.csv")
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == f'attachment; filename="batch-{batch.pk}-errors.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[1] for row in rows[1:]] == ["'" + formula for formula in FORMULAS]
    assert [row[0] for row in rows[1:]] == ["'" + formula + ".jpg" for formula in FORMULAS]


def test_only_text_that_starts_like_a_formula_changes() -> None:
    assert neutralise("Colin Powell") == "Colin Powell" and neutralise("a=b") == "a=b"
    assert neutralise(-5) == -5 and neutralise(Decimal("-1.50")) == Decimal("-1.50")
