"""The dashboard's roles for the API: viewers read, operators also change backups, definitions
and previews (backups.permissions)."""

from rest_framework import permissions

from backups.permissions import OPERATOR, VIEWER, has_role


class _Role(permissions.BasePermission):
    role = VIEWER

    @property
    def message(self):
        return f"this needs the {self.role} role"

    def has_permission(self, request, view):
        return has_role(request.user, self.role)


class IsViewer(_Role):
    role = VIEWER


class IsOperator(_Role):
    role = OPERATOR


class ReadViewerWriteOperator(permissions.BasePermission):
    """GET for viewers; anything that changes something for operators."""

    def has_permission(self, request, view):
        role = VIEWER if request.method in permissions.SAFE_METHODS else OPERATOR
        self.message = f"this needs the {role} role"
        return has_role(request.user, role)
