"""Periodic account hygiene."""

from celery import shared_task

from agencies.services import accounts_disable_inactive


@shared_task
def disable_inactive_accounts() -> int:
    return accounts_disable_inactive()


@shared_task
def close_billing_period() -> int:
    from agencies.billing import period_close

    return len(period_close())
