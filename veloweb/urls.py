import inspect

import django_rq.urls
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, include, path
from django.views.decorators.cache import never_cache

from backups.permissions import admin_required
from backups.views.metrics_endpoint import metrics
from backups.views.user_pages import PasswordChange


def _admins_only(patterns):
    """django-rq's pages, for Veloweb's admin role only (sign-in first, 403 for any other role).
    Its views check `is_staff` themselves, which is not a Veloweb role: a staff viewer could empty
    the queues and a non-staff admin could not look. That check is unwrapped, ours put instead."""
    return [
        URLPattern(p.pattern, never_cache(admin_required(inspect.unwrap(p.callback))), p.default_args, p.name)
        for p in patterns
    ]


urlpatterns = [
    *([path("oidc/", include("mozilla_django_oidc.urls"))] if settings.VELOWEB_OIDC_ENABLED else []),
    path("admin/", admin.site.urls),
    path("rq/", include((_admins_only(django_rq.urls.urlpatterns), django_rq.urls.app_name))),
    path("accounts/password_change/", PasswordChange.as_view(), name="password_change"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("backups.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("backups.urls")),
]

handler403 = "backups.views.errors.permission_denied"
handler404 = "backups.views.errors.page_not_found"
