"""Django finds an app's models in `<app>.models`: this module imports each concern's models so that
they register under the `agencies` app (tables and migrations unchanged). Import them from their
own package (`agencies.tenancy.models`, `agencies.accounts.models`, ...), not from here."""

from agencies.accounts.models import Invitation, RoleRequest
from agencies.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from agencies.billing.models import ExcludedJurisdiction, Invoice, InvoiceLine, License, Plan, UsageEvent
from agencies.tenancy.models import Agency, Membership

__all__ = ["Agency", "AuditChainHead", "AuditCheckpoint", "AuditEvent", "ExcludedJurisdiction",
           "Invitation", "Invoice", "InvoiceLine", "License", "Membership", "Plan", "RoleRequest",
           "UsageEvent"]
