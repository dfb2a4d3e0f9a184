"""Small formatting filters for catalog pages."""

from django import template
from django.conf import settings

from billing.money import format_amount

register = template.Library()


@register.filter
def money(cents, currency: str = "") -> str:
    """12345 → "$123.45": billing.money's one formatter (integers, the currency's exponent)."""
    if cents in (None, ""):
        return ""
    return format_amount(int(cents), currency or settings.STORE_CURRENCY)


@register.filter
def params(count) -> str:
    """135_000_000 → "135M", 1_700_000_000 → "1.7B"."""
    if not count:
        return ""
    count = int(count)
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= size:
            value = count / size
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return str(count)


@register.filter
def stars(average) -> str:
    """4.4 → "★★★★☆" (rounded to the nearest star)."""
    if average is None:
        return ""
    full = max(0, min(5, round(float(average))))
    return "★" * full + "☆" * (5 - full)
