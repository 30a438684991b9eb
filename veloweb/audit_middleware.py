"""Sets the audit trail's actor (`backups.audit_context`) for each request: the signed-in user and
the client's address, so that every service call in the request records both."""

from __future__ import annotations

from backups.audit_context import acting_as, client_address, user_actor


class AuditActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The user is read lazily (request.user is a SimpleLazyObject): only audited requests pay.
        with acting_as(user_actor(request.user, client_address(request))):
            return self.get_response(request)
