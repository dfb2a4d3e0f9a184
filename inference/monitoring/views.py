"""/metrics: the Prometheus exposition of every process of this machine (multi-process mode)
plus the deployment-wide series of collector.py. Only for "Bearer <METRICS_TOKEN>"."""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET


def _authorized(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@require_GET
def metrics(request):
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    if not _authorized(request):
        response = HttpResponse("A valid metrics token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from inference.monitoring.collector import StoreCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(StoreCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
