"""What a username may be: plain ASCII that reads the same to everyone, and no name that could
pass for the system, the platform or another role in the audit trail or a CSV export."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# ASCII only: Django's default validator admits any Unicode letter, so "аdmin" (Cyrillic a)
# would look like "admin" in the audit trail.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
RESERVED_USERNAMES = frozenset({"system", "platform", "public", "admin", "administrator", "root",
                                "operator", "casebound", "superuser", "staff", "support",
                                "security", "auditor"})
# A leading = + - @ makes a spreadsheet read the audit export's actor cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@")
USERNAME_HELP = "Letters, digits and . - _ only (no spaces or accents)."


def validate_username(value: str) -> None:
    """Raise ValidationError with a message that says how to fix `value`."""
    if len(value) > 150:
        raise ValidationError("A username has at most 150 characters.", code="username_length")
    if value.startswith(FORMULA_PREFIXES):
        raise ValidationError("A username cannot start with = + - or @.", code="username_prefix")
    if not USERNAME_PATTERN.fullmatch(value):
        raise ValidationError("Use only letters, digits and . - _ in a username (no spaces, accents "
                              "or other symbols).", code="username_characters")
    if value.lower().strip("._-") in RESERVED_USERNAMES:
        raise ValidationError(f"“{value}” is reserved; choose another username.",
                              code="username_reserved")
