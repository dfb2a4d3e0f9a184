"""GPTs for tests: a GPT on a tiny servable model sold per token, published as asked."""

from billing.services import token_price_set
from store.gpts import services
from store.gpts.models import Gpt, GptCategory
from tests.support.servable import servable_listing

# Base model prices (cents per 1M tokens = µ¢ per token) and the builder's markup.
INPUT, OUTPUT, MARKUP = 20, 40, 7


def metered_listing(model_dir, **fields):
    listing = servable_listing(model_dir, **fields)
    token_price_set(
        listing=listing, actor=listing.publisher.user, input_per_mtok=INPUT, output_per_mtok=OUTPUT
    )
    return listing


def category(slug="education") -> GptCategory:
    # The migration writes the categories; a transactional test's flush removes them.
    return GptCategory.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]


def draft_gpt(builder, listing, **fields) -> Gpt:
    values = {
        "name": "Capital tutor",
        "category": category(),
        "base_listing": listing,
        "description": "Answers questions about capitals.",
        "instructions": "You are a patient tutor. Answer in one sentence.",
        "starters": ["What is the capital of France?"],
        "markup_per_mtok": MARKUP,
        **fields,
    }
    return services.gpt_create(builder=builder, **values)


def verified(builder):
    profile = services.builder_profile_for(builder)
    profile.verified = True
    profile.save(update_fields=["verified"])
    return profile


def published_gpt(builder, listing, *, visibility=Gpt.Visibility.LINK, curator=None, **fields):
    """A GPT others can use: shared by link, or (with ``curator``) public and approved."""
    gpt = draft_gpt(builder, listing, **fields)
    if visibility == Gpt.Visibility.PUBLIC:
        verified(builder)
    gpt = services.gpt_publish(gpt=gpt, actor=builder, visibility=visibility)
    if visibility == Gpt.Visibility.PUBLIC and curator is not None:
        gpt = services.gpt_approve(gpt=gpt, actor=curator)
    return gpt
