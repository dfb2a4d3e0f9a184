"""Who may fine-tune what, and who may publish what fine-tuning made. Each rule once."""

from django.conf import settings

from accounts.models import PublisherProfile
from billing import policies as billing_policies
from billing.selectors import access_for
from inference.training.models import FineTuningTerms
from store.models import Listing


def _terms(listing: Listing):
    return FineTuningTerms.objects.filter(listing=listing).first()


def training_price_for(*, user, listing: Listing) -> int | None:
    """The price per 1M training tokens (cents, = µ¢ per token) ``user`` pays to fine-tune
    ``listing``, or None when they may not: the publisher's terms when they allow it; a
    model the customer owns (purchase, or their own listing) may always be fine-tuned, at
    the store's price for owned models when its publisher set none."""
    if listing.status != Listing.Status.APPROVED or not getattr(user, "is_authenticated", False):
        return None
    terms = _terms(listing)
    if terms is not None and terms.allowed:
        return terms.price_per_mtok
    if access_for(user=user, listing=listing).kind == "purchase":
        return settings.TRAINING_OWNED_PRICE_PER_MTOK
    return None


def may_edit_terms(user, listing: Listing) -> bool:
    return billing_policies.may_edit_pricing(user, listing)


def derived_publish_refusal(user, fine_tuned_model) -> str | None:
    """Why ``user`` may not publish ``fine_tuned_model`` as a listing of their own, or None
    when they may: they own it, are an approved publisher, and the base listing's publisher
    allows derived models (the terms as they are now; a listing already made keeps its
    lineage if the terms change later)."""
    if not getattr(user, "is_authenticated", False) or fine_tuned_model.owner_id != user.pk:
        return "Only the owner of a fine-tuned model can publish it."
    terms = _terms(fine_tuned_model.base_listing)
    if terms is None or not terms.derived_publishable:
        return (
            f"The publisher of {fine_tuned_model.base_listing.model_id} does not allow "
            "publishing models fine-tuned from it."
        )
    if not PublisherProfile.objects.filter(
        user=user, status=PublisherProfile.Status.APPROVED
    ).exists():
        return "Only approved publishers can publish models: apply to become one first."
    return None


def may_publish_derived(user, fine_tuned_model) -> bool:
    return derived_publish_refusal(user, fine_tuned_model) is None
