"""Shared pytest fixtures live in tests/fixtures.py, for app tests and cross-app tests alike.

The database fixtures are here because they replace pytest-django's own: the test database is
created and migrated as the tables' owner (as `manage.py migrate` is), and the suite then runs as
the application's role, so row-level security binds every test exactly as it binds production.
"""

from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["tests.fixtures"]

_APP_CREDENTIALS: dict[str, Any] = {}
DISPOSABLE = "casebound.audit_disposable"


def _use_credentials(credentials: dict[str, Any]) -> None:
    from django.db import connections

    connection = connections["default"]
    connection.close()
    connection.settings_dict.update(credentials)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    from django.db import connections

    from portal.db.owner import CREDENTIALS, owner_credentials

    settings_dict = connections["default"].settings_dict
    _APP_CREDENTIALS.update({key: settings_dict[key] for key in CREDENTIALS})
    settings_dict.update(owner_credentials())


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    from django.db import connection

    from portal.config import setting
    from portal.db.owner import owner_credentials

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Transactional tests empty the tables between tests with TRUNCATE, which the application
        # role has nowhere else.
        cursor.execute(f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO "{setting("DB_APP_ROLE")}"')
        # The audit tables refuse TRUNCATE unless the database's owner declared the database
        # disposable, which only a test database is (migration 0011_audit_guards).
        cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" '
                       f"SET {DISPOSABLE} = on")
    _use_credentials(_APP_CREDENTIALS)
    yield
    _use_credentials(owner_credentials())  # pytest-django drops the test database as its owner
