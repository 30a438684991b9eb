"""`Authorization: Bearer <token>` (or `Token <token>`): the token's user, with its role."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from backups.services import api_tokens


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in self.keywords:
            return None  # no credentials: the permission check answers 401
        if not token.strip():
            raise exceptions.AuthenticationFailed("the Authorization header has no token after its scheme")
        try:
            row = api_tokens.authenticate(token)
        except api_tokens.Rejected as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return row.user, row

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for the tokens above."""

    target_class = BearerTokenAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made in Settings > API tokens; it acts with its user's role.",
        }
