from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import gateway, policies, selectors, services
from billing.forms import CheckoutForm
from billing.models import Order, PriceOption
from config.api_errors import ApplicationError


def own_order(request, number) -> Order:
    """The customer's order; staff may look at any; 403 for someone else's, 404 if none."""
    order = Order.objects.select_related("listing__publisher", "user").filter(number=number).first()
    if order is None:
        raise Http404("No such order.")
    if not policies.may_view_order(request.user, order):
        raise PermissionDenied("This order belongs to another customer.")
    return order


@login_required
def checkout(request, option_id: int):
    """Step one: what is bought, the licence to accept; POST makes (or finds) the order."""
    option = get_object_or_404(
        PriceOption.objects.select_related("listing__publisher"), pk=option_id, active=True
    )
    listing = option.listing
    if not listing.is_public:
        raise Http404("This model is not on sale.")
    terms = selectors.terms_for(listing=listing)
    form = CheckoutForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_start(
                user=request.user,
                price_option_id=option.pk,
                accept_terms=form.cleaned_data["accept_terms"],
            )
        except ApplicationError as exc:
            if exc.code == "already_owned":
                messages.info(request, exc.message)
                return redirect("billing:library")
            form.add_error("accept_terms" if exc.field == "accept_terms" else None, exc.message)
        else:
            return redirect("billing:order_pay", number=order.number)
    return render(
        request,
        "billing/checkout.html",
        {
            "option": option,
            "listing": listing,
            "terms": terms,
            "terms_accepted": selectors.terms_accepted(
                user=request.user, listing=listing, terms=terms
            ),
            "form": form,
        },
    )


@login_required
def order_pay(request, number):
    """Step two: the card form. The PaymentIntent is made once per order."""
    order = own_order(request, number)
    if order.kind == "purchase":
        line = "Purchase"
    else:
        line = f"{intcomma(order.tokens)} tokens for {order.days} day{pluralize(order.days)}"
    return pay_page(
        request,
        payable=order,
        ensure=lambda: services.order_payment_intent_ensure(order=order),
        route="order",
        unavailable_url=reverse("billing:order_detail", kwargs={"number": order.number}),
        payment={
            "title": order.listing.name,
            "line": line,
            "amount": order.amount,
            "currency": order.currency,
            "reference": f"Order {order.short_number}",
        },
    )


def pay_page(request, *, payable, ensure, route: str, unavailable_url: str, payment: dict):
    """The card form of an order or a credit top-up (``route``: their URL names' prefix):
    only its customer pays, only while pending; the PaymentIntent is made once (``ensure``);
    one already paid or processing goes to the landing page."""
    number = payable.number
    if payable.user_id != request.user.pk or payable.status != "pending":
        return redirect(f"billing:{route}_detail", number=number)
    try:
        intent = ensure()
    except (gateway.GatewayError, ApplicationError) as exc:
        messages.error(request, f"Payment is unavailable right now: {exc.message}")
        return redirect(unavailable_url)
    if intent.status in {"succeeded", "processing"}:
        return redirect(f"billing:{route}_complete", number=number)
    response = render(
        request,
        "billing/pay.html",
        {
            "payment": payment,
            "client_secret": intent.client_secret,
            "confirmation_mode": gateway.confirmation_mode(),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "token_url": reverse(f"billing:{route}_pay_token", kwargs={"number": number}),
            "complete_url": reverse(f"billing:{route}_complete", kwargs={"number": number}),
        },
    )
    response._csp_update = gateway.card_form_sources()  # django-csp: this page only
    return response


@login_required
@require_POST
def order_pay_token(request, number):
    """localstripe's half of the checkout: the page sends a card token, we confirm."""
    order = own_order(request, number)
    if order.user_id != request.user.pk:
        raise PermissionDenied("This order belongs to another customer.")
    retry = None
    if order.price_option_id:
        # The declined order is closed; another card starts a fresh order.
        retry = reverse("billing:checkout", kwargs={"option_id": order.price_option_id})
    return card_token_answer(
        request,
        pending=order.status == Order.Status.PENDING,
        what="order",
        pay=lambda token: services.order_pay_with_token(order=order, token_id=token),
        complete_url=reverse("billing:order_complete", kwargs={"number": order.number}),
        retry_url=retry,
    )


def card_token_answer(request, *, pending: bool, what: str, pay, complete_url, retry_url):
    """The JSON answer to the card form's token (an order's or a top-up's): where to go
    next, the 3-D Secure step, or why it failed (with ``retry_url`` after a decline)."""
    token_id = request.POST.get("token", "")
    if not token_id.startswith("tok_"):
        return JsonResponse({"error": "The card details were not received."}, status=400)
    if not pending:
        return JsonResponse({"error": f"This {what} is not awaiting payment."}, status=409)
    try:
        intent = pay(token_id)
    except ApplicationError as exc:
        body = {"error": exc.message, "code": exc.code}
        if exc.code == "card_declined" and retry_url:
            body["retry_url"] = retry_url
        return JsonResponse(body, status=exc.status)
    return JsonResponse(
        {
            "status": intent.status,
            "client_secret": intent.client_secret if intent.status == "requires_action" else "",
            "redirect": complete_url,
        }
    )


@login_required
def order_complete(request, number):
    """Where the card form lands: ask Stripe (the webhook may be late) and show the result."""
    order = payment_landing(
        request,
        payable=own_order(request, number),
        sync=lambda order: services.order_sync(order=order),
        paid="Payment received. Thank you!",
    )
    return redirect("billing:order_detail", number=order.number)


def payment_landing(request, *, payable, sync, paid: str):
    """The landing of an order's or a top-up's card form: Stripe is asked how the payment
    went (its webhook may be late) and the customer is told; returns the payable as it is."""
    try:
        payable = sync(payable)
    except (gateway.GatewayError, ApplicationError) as exc:
        messages.error(request, f"We could not check the payment yet: {exc.message}")
    if payable.status == "paid":
        messages.success(request, paid)
    elif payable.status == "failed":
        messages.error(request, payable.failure_message or "The payment failed.")
    elif payable.status == "pending":
        messages.info(
            request, "Your payment is being processed; this page updates when it is done."
        )
    return payable
