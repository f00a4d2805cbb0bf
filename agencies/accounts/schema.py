"""OpenAPI descriptions of Casebound's authentication classes, for drf-spectacular."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "agencies.accounts.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "A browser session that has passed both factors"}


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "agencies.accounts.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": 'Token from POST /api/v1/auth/token/, sent as "Token <key>"; '
                               "it expires after 12 hours"}


ERROR_SCHEMA = {
    "type": "object", "required": ["code", "detail"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable reason"},
        "detail": {"type": "string", "description": "What happened and what to do next"},
        "errors": {"type": "object", "description": "Field errors, when code is `invalid`",
                   "additionalProperties": True},
    },
}
# Every refusal the API gives, with the same body (portal/api.py). Listed on every operation:
# any of them may answer most of these (a lapsed license, a role, another agency's id).
ERROR_RESPONSES = {
    "400": "Invalid input: `errors` names the fields",
    "401": "Not signed in, or the token expired",
    "402": "The agency's license does not allow this (expired, suspended, quota used)",
    "403": "Your role or this case's authorization does not allow this",
    "404": "No such object in your agency",
    "409": "The object is not in a state that allows this",
    "413": "The upload is too large (bytes or pixels)",
    "422": "The photo could not be used (no face, several faces, unreadable)",
    "429": "Too many requests; wait and try again",
}


def error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool
                    ) -> dict[str, Any]:
    """drf-spectacular post-processing hook: document the API's error answers everywhere, so that
    a client (and schemathesis' status-code check) knows every status it can receive."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": content})
    return result
