"""Turning API server answers and transport failures into readable SourceErrors."""

from __future__ import annotations

import json
import re
import socket

import urllib3

from backups.engine.source import SourceError


class KubeConfigError(SourceError, ValueError):
    """A kubeconfig that cannot be used: missing file, invalid content, unknown context."""

    def __init__(self, message: str):
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


def parse_status(body: bytes | str | None) -> dict | None:
    """The `Status` object of an error response, or None when the body is not one."""
    if not body:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return doc
    return None


def _snippet(body: bytes | str | None, limit: int = 200) -> str:
    if not body:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    body = " ".join(body.split())
    return body if len(body) <= limit else body[:limit] + "..."


def status_message(status: int, body: bytes | str | None, reason: str = "", resource: str = "") -> str:
    """A one-line message from a k8s Status body: `forbidden: User "x" cannot list ...`.

    The server words messages as `pods is forbidden: ...`; the leading `pods is ` is dropped since
    SourceError already names the resource.
    """
    doc = parse_status(body)
    if doc is not None:
        message = str(doc.get("message") or "").strip()
        if resource and message.startswith(resource + " is "):
            message = message[len(resource) + 4 :]
        if message:
            return message
        if doc.get("reason"):
            return str(doc["reason"])
    text = _snippet(body)
    if text:
        return f"{reason or 'error'}: {text}" if reason else text
    return reason or f"HTTP status {status}"


def http_error(
    status: int,
    body: bytes | str | None,
    *,
    reason: str = "",
    resource: str = "",
    namespace: str | None = None,
    extra: str = "",
) -> SourceError:
    message = status_message(status, body, reason, resource)
    if extra:
        message = f"{message} ({extra})"
    return SourceError(message, resource=resource, namespace=namespace or "", status=status)


def _is_timeout(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            return False  # a subclass of ConnectTimeoutError in urllib3 2, but a refused connection
        if isinstance(exc, (urllib3.exceptions.TimeoutError, socket.timeout, TimeoutError)):
            return True
        exc = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
        seen += 1
    return False


def transport_error(
    exc: BaseException, *, url: str, timeout: float, resource: str = "", namespace: str | None = None
) -> SourceError:
    """A request that got no HTTP answer: timeout, refused connection, TLS failure, reset."""
    if _is_timeout(exc):
        message = f"request timed out after {timeout:g}s ({_strip_query(url)})"
    else:
        reason = getattr(exc, "reason", None) or exc
        message = f"cannot reach the API server at {_strip_query(url)}: {_describe(reason)}"
    return SourceError(message, resource=resource, namespace=namespace or "")


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _describe(exc: BaseException | str) -> str:
    text = str(exc)
    # urllib3 wraps as "<HTTPConnection object at 0x...>: Failed to establish a new connection: ..."
    text = re.sub(r"<[^>]* object at 0x[0-9a-f]+>:\s*", "", text)
    return text or type(exc).__name__
