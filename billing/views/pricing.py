from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing import policies, selectors, services
from billing.forms import PriceOptionForm, TermsForm, TokenPriceForm
from billing.models import PriceOption
from config.html_refusals import REFUSED, act_on_form
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
    # Each form posts its own button; a valid one calls its service and comes back here.
    actions = {
        "set_token_price": (
            token_form,
            services.token_price_set,
            "Price per token saved: it applies to new requests.",
        ),
        "add_price": (price_form, services.price_option_add, "Price added."),
        "save_terms": (terms_form, services.listing_terms_set, "Licence terms saved."),
    }
    posted = next((name for name in actions if name in request.POST), None)
    if request.method == "POST" and posted:
        unbound, service, success = actions[posted]
        form = type(unbound)(request.POST, prefix=unbound.prefix)
        if form.is_valid():
            done = act_on_form(
                form, lambda: service(listing=listing, actor=request.user, **form.cleaned_data)
            )
            if done is not REFUSED:
                messages.success(request, success)
                return redirect("billing:pricing", listing_id=listing.pk)
        token_form, price_form, terms_form = (
            form if name == posted else actions[name][0]
            for name in ("set_token_price", "add_price", "save_terms")
        )
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
