"""OpenAPI descriptions of Casebound's authentication classes, for drf-spectacular."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "agencies.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "A browser session that has passed both factors"}


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "agencies.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": 'Token from POST /api/v1/auth/token/, sent as "Token <key>"; '
                               "it expires after 12 hours"}
