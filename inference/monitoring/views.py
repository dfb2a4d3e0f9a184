"""/metrics: the Prometheus exposition of every process of this machine (multi-process mode)
plus the deployment-wide series of collector.py, only for "Bearer <METRICS_TOKEN>"; and the
publisher's monitoring page of one model."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from inference.monitoring.collector import StoreCollector
from inference.monitoring.selectors import PERIODS, model_monitoring, model_serving
from store.publishing.selectors import studio_listing_for


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

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(StoreCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@login_required
def model_monitoring_page(request, listing_id: int):
    """One model's monitoring for its publisher (or staff)."""
    listing = studio_listing_for(user=request.user, listing_id=listing_id)
    if listing is None:
        raise Http404("No such listing in your studio.")
    try:
        hours = int(request.GET.get("hours", 24))
    except ValueError:
        hours = 24
    if hours not in PERIODS:
        hours = 24
    return render(
        request,
        "inference/monitoring.html",
        {
            "listing": listing,
            "monitoring": model_monitoring(listing=listing, hours=hours),
            "serving": model_serving(listing=listing),
            "periods": [(24, "24 hours"), (24 * 7, "7 days"), (24 * 30, "30 days")],
        },
    )
