"""`/metrics` for Prometheus: Velero's metric names and Veloweb's own (backups.metrics), behind
the token or allow-list of backups.metrics.access; never cached, never behind a sign-in."""

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from backups.metrics.access import refusal
from backups.metrics.collector import DatabaseCollector


@never_cache
@require_GET
def metrics(request):
    refused = refusal(request.headers.get("Authorization", ""), request.META.get("REMOTE_ADDR", ""))
    if refused:
        response = HttpResponse(refused.message + "\n", status=refused.status, content_type="text/plain")
        if refused.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # the classic text format (0.0.4), which every Prometheus version reads, as Velero serves it
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
