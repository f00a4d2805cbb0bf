"""The audit trail page shows each event's details as a one-line glance (the telling keys first,
long values shortened) and every detail, whole, on demand; a short event needs no disclosure."""

from __future__ import annotations

import re

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record
from tests.fixtures import web_client

LONG = "Quarterly review of the searches of the robbery squad, with the chief's written request"


def _row(page: str, seq: int) -> str:
    return re.search(rf'<tr class="audit-row"><td>{seq}</td>.*?</tr>', page, re.S).group(0)


def test_a_long_events_details_are_a_glance_with_the_rest_on_demand(cast) -> None:
    audit_record(action=AuditAction.EXPORT, agency=cast.agency, actor=cast.admin,
                 details={"export": "audit_csv", "filters": {"actor": "alice"},
                          "request_id": "0f4c2a9e", "reason": LONG})
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).latest("seq")
    row = _row(web_client(cast.auditor).get("/audit/").content.decode(), event.seq)
    summary = re.search(r"<summary>(.*?)</summary>", row, re.S).group(1)
    # The telling key first, shortened at a word to one line; the rest behind the disclosure.
    assert summary.startswith("<span>reason: Quarterly review of the…</span><span")
    assert "request_id" not in summary and "export" not in summary
    every = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", row.split("</summary>")[1]))
    assert every == {"export": "audit_csv", "filters": "{&#x27;actor&#x27;: &#x27;alice&#x27;}",
                     "request_id": "0f4c2a9e", "reason": LONG.replace("'", "&#x27;")}
    assert f"all details of event {event.seq}" in summary  # what a screen reader hears


def test_a_short_events_details_are_shown_whole_without_a_disclosure(cast) -> None:
    audit_record(action=AuditAction.EXPORT, agency=cast.agency, actor=cast.admin,
                 details={"export": "audit_csv", "role": "auditor"})
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).latest("seq")
    row = _row(web_client(cast.auditor).get("/audit/").content.decode(), event.seq)
    assert ('<td class="details"><span>role: auditor</span>; '
            '<span>export: audit_csv</span></td>') in row
    assert "<details" not in row
