"""Sets the audit trail's actor (`backups.audit_context`) for each request: the signed-in user and
the client's address, so that every service call in the request records both."""

from __future__ import annotations

from backups.audit_context import acting_as


class AuditActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The user is read when an entry is written (`audit_context.current`): only audited
        # requests pay, and an API token's user (signed in inside the view) is the one recorded.
        with acting_as(request):
            return self.get_response(request)
