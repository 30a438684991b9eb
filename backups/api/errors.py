"""Every API error in one shape: `{"error": {"code", "message", "fields": {field: [messages]}}}`.
`code` is stable for scripts, `message` is for people, `fields` names each bad input."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_handler


class Conflict(exceptions.APIException):
    """A name taken, or another clash with what exists; `field` names the input it is about."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "that conflicts with what exists"

    def __init__(self, detail=None, field: str = ""):
        super().__init__(detail)
        self.field = field


class Unavailable(exceptions.APIException):
    """Something Veloweb depends on (a storage location) failed: nothing was changed."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


class Invalid(exceptions.ValidationError):
    """Bad input, by field: raised with {field: [message, ...]} (validation.Problem pairs)."""


def invalid(problems) -> Invalid:
    """Invalid from the validation layer's (field, message) problems."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(problem.field or "non_field_errors", []).append(problem.message)
    return Invalid(fields)


CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500 handling and logging
    code = next(
        (c for cls, c in CODES.items() if isinstance(exc, cls)), getattr(exc, "default_code", "error")
    )
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(
            f"{field}: {m}" if field != "non_field_errors" else m for field, ms in fields.items() for m in ms
        )
        response.data = error_body(code, message or "invalid input", fields)
    else:
        message = str(getattr(exc, "detail", exc))
        field = getattr(exc, "field", "")
        response.data = error_body(code, message, {field: [message]} if field else None)
    return response


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.sub" or "field.0": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            return {prefix or "non_field_errors": [str(d) for d in detail]}
        out = {}
        for index, value in enumerate(detail):
            if not value:
                continue
            for field, messages in _flatten(value, f"{prefix}.{index}" if prefix else str(index)).items():
                out.setdefault(field, []).extend(messages)
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def not_found_view(request, exception=None):
    """Unknown paths under /api/ answer in the same shape (not Django's HTML 404)."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)
