from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing import policies, selectors, services
from billing.forms import PriceOptionForm, TermsForm, TokenPriceForm
from billing.models import PriceOption
from config.api_errors import ApplicationError
from store.models import Listing


def _own_listing(request, listing_id: int) -> Listing:
    listing = get_object_or_404(Listing.objects.select_related("publisher"), pk=listing_id)
    if not policies.may_edit_pricing(request.user, listing):
        raise PermissionDenied("Only the listing's publisher can price it.")
    return listing


@login_required
def pricing(request, listing_id: int):
    """The publisher's pricing page: add or withdraw prices, set the licence to accept."""
    listing = _own_listing(request, listing_id)
    terms = selectors.terms_for(listing=listing)
    price_form = PriceOptionForm(prefix="price")
    terms_form = TermsForm(prefix="terms", initial={"text": terms.text if terms else ""})
    token_price = selectors.token_price_for(listing=listing)
    token_form = TokenPriceForm(
        prefix="tokens",
        initial={
            "input_per_mtok": token_price.input_per_mtok if token_price else None,
            "output_per_mtok": token_price.output_per_mtok if token_price else None,
        },
    )
    if request.method == "POST" and "set_token_price" in request.POST:
        token_form = TokenPriceForm(request.POST, prefix="tokens")
        if token_form.is_valid():
            try:
                services.token_price_set(
                    listing=listing, actor=request.user, **token_form.cleaned_data
                )
            except ApplicationError as exc:
                exc.add_to_form(token_form)
            else:
                messages.success(request, "Price per token saved: it applies to new requests.")
                return redirect("billing:pricing", listing_id=listing.pk)
    elif request.method == "POST" and "add_price" in request.POST:
        price_form = PriceOptionForm(request.POST, prefix="price")
        if price_form.is_valid():
            try:
                services.price_option_add(
                    listing=listing, actor=request.user, **price_form.cleaned_data
                )
            except ApplicationError as exc:
                exc.add_to_form(price_form)
            else:
                messages.success(request, "Price added.")
                return redirect("billing:pricing", listing_id=listing.pk)
    elif request.method == "POST" and "save_terms" in request.POST:
        terms_form = TermsForm(request.POST, prefix="terms")
        if terms_form.is_valid():
            try:
                services.listing_terms_set(
                    listing=listing, actor=request.user, text=terms_form.cleaned_data["text"]
                )
            except ApplicationError as exc:
                terms_form.add_error("text", exc.message)
            else:
                messages.success(request, "Licence terms saved.")
                return redirect("billing:pricing", listing_id=listing.pk)
    return render(
        request,
        "billing/pricing.html",
        {
            "listing": listing,
            "options": selectors.price_options_for(listing=listing),
            "price_form": price_form,
            "terms_form": terms_form,
            "terms": terms,
            "token_price": token_price,
            "token_form": token_form,
            "currency": settings.STORE_CURRENCY,
        },
    )


@login_required
@require_POST
def price_deactivate(request, listing_id: int, option_id: int):
    listing = _own_listing(request, listing_id)
    option = get_object_or_404(PriceOption, pk=option_id, listing=listing)
    services.price_option_deactivate(option=option, actor=request.user)
    messages.success(request, "Price withdrawn from sale.")
    return redirect("billing:pricing", listing_id=listing.pk)
