"""A user whose password an admin reset to a one-time one is sent to change it before anything
else (`services.users.reset_password`); signing out and the change itself stay open."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from backups.services.users import must_change_password

OPEN = ("password_change", "password_change_done", "logout")


class PasswordChangeRequired:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and must_change_password(user):
            open_paths = {reverse(name) for name in OPEN}
            if request.path not in open_paths and not request.path.startswith("/static/"):
                target = reverse("password_change")
                if getattr(request, "htmx", False):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target
                    return response
                return redirect(target)
        return self.get_response(request)
