"""Who may fine-tune what, and who may publish what fine-tuning made. Each rule once."""

from django.conf import settings

from store.models import Listing


def _terms(listing: Listing):
    from inference.training.models import FineTuningTerms

    return FineTuningTerms.objects.filter(listing=listing).first()


def training_price_for(*, user, listing: Listing) -> int | None:
    """The price per 1M training tokens (cents, = µ¢ per token) ``user`` pays to fine-tune
    ``listing``, or None when they may not: the publisher's terms when they allow it; a
    model the customer owns (purchase, or their own listing) may always be fine-tuned, at
    the store's price for owned models when its publisher set none."""
    from billing.selectors import access_for

    if listing.status != Listing.Status.APPROVED or not getattr(user, "is_authenticated", False):
        return None
    terms = _terms(listing)
    if terms is not None and terms.allowed:
        return terms.price_per_mtok
    if access_for(user=user, listing=listing).kind == "purchase":
        return settings.TRAINING_OWNED_PRICE_PER_MTOK
    return None


def may_edit_terms(user, listing: Listing) -> bool:
    from billing import policies as billing_policies

    return billing_policies.may_edit_pricing(user, listing)


def may_publish_derived(user, fine_tuned_model) -> bool:
    """The owner, being an approved publisher, of a model whose base allows derived models."""
    from accounts.models import PublisherProfile

    if fine_tuned_model.owner_id != user.pk:
        return False
    terms = _terms(fine_tuned_model.base_listing)
    if terms is None or not terms.derived_publishable:
        return False
    return PublisherProfile.objects.filter(
        user=user, status=PublisherProfile.Status.APPROVED
    ).exists()
