"""Periodic account hygiene."""

from celery import shared_task

from agencies.accounts.services import accounts_disable_inactive
from agencies.audit.bypass import platform_rows


@shared_task
def disable_inactive_accounts() -> int:
    with platform_rows("disable inactive accounts"):
        return accounts_disable_inactive()


@shared_task
def close_billing_period() -> int:
    from agencies.billing.metering import period_close

    with platform_rows("monthly billing close"):
        return len(period_close())


@shared_task
def sign_audit_checkpoints() -> int:
    from agencies.audit.checkpoints import audit_checkpoints_sign

    with platform_rows("audit checkpoint"):
        return len(audit_checkpoints_sign())
