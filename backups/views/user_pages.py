"""Users and roles in Settings (admins): create, disable and enable, reset a password, change a
role after a confirmation. The rules (the last admin stays) are `services.users`'."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import PasswordChangeView
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backups.forms import PasswordResetForm, UserCreateForm, UserRoleForm
from backups.permissions import admin_required, assigned_role
from backups.services import users


def _user(pk):
    return get_object_or_404(get_user_model(), pk=pk)


def _shown_once(request, account, password: str, created: bool):
    """The one-time password, on this answer only (never in a message or the session)."""
    context = {"account": account, "password": password, "created": created}
    return render(request, "backups/user_password_shown.html", context)


@never_cache
@admin_required
def user_new(request):
    form = UserCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account, shown = users.create_user(data["username"], data["role"], data["password"])
        except users.UserProblem as error:
            form.add_error("password" if "password" in str(error).lower() else "username", str(error))
        else:
            if shown:
                return _shown_once(request, account, shown, created=True)
            messages.success(request, f"User {account.get_username()} created.")
            return redirect("backups:settings")
    return render(request, "backups/user_form.html", {"form": form})


@require_POST
@admin_required
def user_active(request, pk):
    account = _user(pk)
    active = request.POST.get("active") == "1"
    try:
        users.set_active(account, active, by=request.user)
    except users.UserProblem as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{account.get_username()} is {'enabled' if active else 'disabled'}.")
    return redirect("backups:settings")


@never_cache
@admin_required
def user_password(request, pk):
    """GET asks: a one-time password (shown once) or one the admin types; POST sets it."""
    account = _user(pk)
    form = PasswordResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            shown = users.reset_password(account, form.cleaned_data["password"])
        except users.UserProblem as error:
            form.add_error("password", str(error))
        else:
            if shown:
                return _shown_once(request, account, shown, created=False)
            messages.success(request, f"The password of {account.get_username()} is set.")
            return redirect("backups:settings")
    return render(request, "backups/user_password.html", {"form": form, "account": account})


@require_POST
@admin_required
def user_role(request, pk):
    """A new role is confirmed first (a page saying what it gives or takes); the download right of
    a viewer, which keeps the role, is set at once."""
    account = _user(pk)
    form = UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("backups:settings")
    role, downloader = form.cleaned_data["role"], form.cleaned_data["downloader"]
    current = assigned_role(account)
    if (role or None) != current and not form.cleaned_data["confirm"]:
        context = {
            "account": account,
            "old_role": current,  # not `role`: base.html's nav sets that one (the viewer's own)
            "new_role": role,
            "downloader": downloader,
            "yourself": account.pk == request.user.pk,
        }
        return render(request, "backups/confirm_role.html", context)
    try:
        said = users.change_role(account, role, downloader)
    except users.UserProblem as error:
        messages.error(request, str(error))
    else:
        messages.success(request, said)
    if account.pk == request.user.pk and role != "admin":
        return redirect("backups:home")  # Settings is no longer theirs
    return redirect("backups:settings")


class PasswordChange(PasswordChangeView):
    """Django's password change (any signed-in user); a one-time password is then gone."""

    def form_valid(self, form):
        response = super().form_valid(form)
        users.password_changed(form.user)
        return response
