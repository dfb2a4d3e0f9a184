"""Template tags for billing pages and the pricing box other apps' pages show."""

from django import template

from billing import selectors
from billing.money import format_amount, format_microcents, per_mtok_label
from billing.services.earnings import earnings_split

register = template.Library()


@register.filter
def money(amount, currency="usd"):
    """{{ order.amount|money:order.currency }} → "$15.00"."""
    if amount is None or amount == "":
        return ""
    return format_amount(int(amount), str(currency))


@register.filter
def per_mtok(cents_per_mtok):
    """{{ price.input_per_mtok|per_mtok }} → "$0.20" (a price per 1M tokens)."""
    return per_mtok_label(int(cents_per_mtok))


@register.filter
def credits(microcents):
    """{{ balance|credits }} → "$4.99", or every digit that matters for a fraction of a cent."""
    return format_microcents(int(microcents or 0))


@register.inclusion_tag("billing/_pricing_box.html", takes_context=True)
def pricing_box(context, listing):
    """Prices of a listing with buy/rent buttons, or what the customer already holds."""
    user = context.get("user")
    signed_in = bool(user and user.is_authenticated)
    return {
        "listing": listing,
        "request": context.get("request"),
        "user": user,
        "options": selectors.price_options_for(listing=listing),
        "access": selectors.access_for(user=user, listing=listing) if signed_in else None,
        "is_publisher": signed_in and listing.publisher.user_id == user.pk,
        "has_terms": selectors.terms_for(listing=listing) is not None,
        "token_price": selectors.token_price_for(listing=listing),
    }


@register.inclusion_tag("billing/_credit_card.html", takes_context=True)
def credit_card(context):
    """The account page's credits card: balance, the low-balance notice, a top-up link."""
    return selectors.credit_summary(user=context["user"])


@register.filter
def publisher_net(option):
    """What the publisher keeps of a price after the platform fee (rounded like sales)."""
    return format_amount(earnings_split(option.amount)["net"], option.currency)
