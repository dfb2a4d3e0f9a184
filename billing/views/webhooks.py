import logging

from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import gateway
from billing.services import stripe_event_process

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe calls this; nothing in the body is trusted before the signature checks out."""
    try:
        event = gateway.webhook_event(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except ValueError as exc:
        log.warning("Refused a Stripe webhook: %s", exc)
        return HttpResponseBadRequest("Invalid signature.")
    outcome = stripe_event_process(event=event)
    return HttpResponse(outcome, content_type="text/plain")
