"""Template tags other apps' pages use to show billing boxes (the listing page's pricing box)."""

from django import template

register = template.Library()


@register.inclusion_tag("billing/_pricing_box.html", takes_context=True)
def pricing_box(context, listing):
    return {"listing": listing, "request": context.get("request"), "user": context.get("user")}
