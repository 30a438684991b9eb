"""Settings > API tokens: each signed-in user makes and revokes their own tokens (an admin also
sees and revokes everyone's). A new token is shown once, in the answer to the POST that made it,
never cached; only its hash is kept."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backups.models import ApiToken
from backups.permissions import can_administer, viewer_required
from backups.services import api_tokens


@never_cache
@viewer_required
def token_list(request):
    """The user's tokens and the form for a new one; POST makes it and shows it this once."""
    context = {"new_token": None, "name": ""}
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            row, token = api_tokens.create_token(request.user, name)
        except api_tokens.TokenProblem as error:
            context.update(error=str(error), name=name[:200])
        else:
            context.update(new_token=token, new_row=row)
    context["tokens"] = api_tokens.tokens_of(request.user)
    if can_administer(request.user):
        context["others"] = api_tokens.all_tokens().exclude(user=request.user).filter(revoked__isnull=True)
    status = 400 if context.get("error") else 200
    return render(request, "backups/api_tokens.html", context, status=status)


@require_POST
@viewer_required
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    if token.user_id != request.user.pk and not can_administer(request.user):
        raise PermissionDenied("only its user or an admin can revoke a token")
    if api_tokens.revoke(token):
        messages.success(
            request, f"Token {token.name} ({token.prefix}…) revoked: it no longer signs anyone in."
        )
    else:
        messages.info(request, f"Token {token.name} was revoked already.")
    return redirect("backups:api_tokens")
