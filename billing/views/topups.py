"""Credit top-ups by card: start one, pay it, land on its receipt."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import gateway, policies, services
from billing.forms import TopUpForm
from billing.models import CreditTopUp
from billing.views.checkout import card_token_answer, pay_page, payment_landing
from config.api_errors import ApplicationError
from config.html_refusals import REFUSED, act


def own_topup(request, number) -> CreditTopUp:
    """The customer's top-up; staff may look with ``view_credittopup``; 403 / 404 else."""
    topup = CreditTopUp.objects.select_related("user").filter(number=number).first()
    if topup is None:
        raise Http404("No such top-up.")
    if not policies.may_view_topup(request.user, topup):
        raise PermissionDenied("This top-up belongs to another customer.")
    return topup


@login_required
@require_POST
def topup_start(request):
    form = TopUpForm(request.POST)
    if form.is_valid():
        topup = act(
            request,
            lambda: services.topup_start(user=request.user, cents=form.cleaned_data["cents"]),
        )
        if topup is not REFUSED:
            return redirect("billing:topup_pay", number=topup.number)
    else:
        messages.error(request, (form.non_field_errors() or ["Choose an amount."])[0])
    return redirect("billing:credits")


@login_required
def topup_pay(request, number):
    topup = own_topup(request, number)
    return pay_page(
        request,
        payable=topup,
        ensure=lambda: services.topup_payment_intent_ensure(topup=topup),
        route="topup",
        unavailable_url=reverse("billing:credits"),
        payment={
            "title": "Credits",
            "line": "Credits for models sold per token, usable on every model.",
            "amount": topup.amount,
            "currency": topup.currency,
            "reference": f"Top-up {topup.short_number}",
        },
    )


@login_required
@require_POST
def topup_pay_token(request, number):
    """localstripe's half of the card form: the page sends a card token, we confirm."""
    topup = own_topup(request, number)
    if topup.user_id != request.user.pk:
        raise PermissionDenied("This top-up belongs to another customer.")
    return card_token_answer(
        request,
        pending=topup.status == CreditTopUp.Status.PENDING,
        what="top-up",
        pay=lambda token: services.topup_pay_with_token(topup=topup, token_id=token),
        complete_url=reverse("billing:topup_complete", kwargs={"number": topup.number}),
        retry_url=reverse("billing:credits"),
    )


@login_required
def topup_complete(request, number):
    """Where the card form lands: ask Stripe (the webhook may be late), show the receipt."""
    topup = payment_landing(
        request,
        payable=own_topup(request, number),
        sync=lambda topup: services.topup_sync(topup=topup),
        paid="Payment received: the credits are in your balance.",
    )
    return redirect("billing:topup_detail", number=topup.number)


@login_required
def topup_detail(request, number):
    """The top-up and, once paid, its printable receipt."""
    topup = own_topup(request, number)
    if topup.status == CreditTopUp.Status.PENDING and topup.user_id == request.user.pk:
        try:
            topup = services.topup_sync(topup=topup)
        except (gateway.GatewayError, ApplicationError):
            pass  # the page still shows the top-up; the webhook will settle it
    return render(request, "billing/topup_detail.html", {"topup": topup})
