"""Friendly 403 and 404 pages: what was not found, or which right is missing, and a way back.
An htmx request gets the fragment alone, swapped into the page's main area (htmx swaps these
two codes, see base.html's htmx-config), never a whole page inside a table cell."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import Resolver404

from backups.permissions import role_of

HTMX_TARGET = "#main"


def _message(exception, fallback: str) -> str:
    """The exception's own words (capitalized), or `fallback` for Django's generic ones and for an
    address no URL matches (whose text would list the URL patterns)."""
    if isinstance(exception, Resolver404):
        return fallback
    text = str(exception or "").strip()
    if not text or text.startswith("No ") and text.endswith("matches the given query."):
        return fallback
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?:" else f"{text}."


def _answer(request, template: str, context: dict, status: int):
    if getattr(request, "htmx", False):
        response = render(request, f"partials/{template}", context, status=status)
        response["HX-Retarget"] = HTMX_TARGET
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, template, context, status=status)


def page_not_found(request, exception=None):
    what = _not_found_what(request.path)
    context = {
        "request_path": request.path,
        "what": what,
        "reason": _message(exception, f"There is no {what} at this address."),
    }
    return _answer(request, "404.html", context, 404)


def permission_denied(request, exception=None):
    role = role_of(request.user) if request.user.is_authenticated else None
    context = {
        "request_path": request.path,
        "reason": _message(exception, "Your role does not allow this."),
        "role": role,
    }
    return _answer(request, "403.html", context, 403)


_KINDS = (
    ("/backups/", "backup"),
    ("/definitions/", "definition"),
    ("/locations/", "storage location"),
    ("/settings/clusters/", "cluster"),
    ("/settings/locations/", "storage location"),
    ("/settings/users/", "user"),
    ("/previews/", "preview"),
)


def _not_found_what(path: str) -> str:
    """The kind of thing a path names ("backup" for /backups/12/), or "page"."""
    for prefix, kind in _KINDS:
        if path.startswith(prefix) and len(path) > len(prefix):
            return kind
    return "page"
