"""Kubernetes `Status` bodies, as the API server answers errors."""

from __future__ import annotations

from aiohttp import web

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


_NOT_FOUND_MSG = "the server could not find the requested resource"


def status_body(code: int, message: str, reason: str | None = None, details: dict | None = None) -> dict:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_response(
    code: int,
    message: str,
    reason: str | None = None,
    details: dict | None = None,
    headers: dict | None = None,
) -> web.Response:
    return web.json_response(status_body(code, message, reason, details), status=code, headers=headers)
