"""An approved, verified publisher cannot rename themselves into someone else: a new name or
slug waits for staff review while the store keeps showing the current one; once approved,
the old slug stays theirs for good and its pages and model ids lead to the new ones."""

import pytest

from accounts.models import PublisherProfile
from accounts.services import publisher_rename_review
from config.api_errors import ApplicationError
from store.selectors import listing_for_model
from tests.accounts.test_publisher_application import apply
from tests.support.servable import servable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(client, user, staff_user):
    client.force_login(user)
    apply(client)
    profile = PublisherProfile.objects.get(user=user)
    profile.status, profile.verified = "approved", True
    profile.save()
    return profile


def test_a_rename_waits_for_review_and_the_store_keeps_the_current_name(client, acme):
    response = apply(client, display_name="OpenAI Official", slug="openai", bio="Now official.")
    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.display_name, acme.slug, acme.verified) == ("Acme Models", "acme", True)
    assert (acme.pending_display_name, acme.pending_slug) == ("OpenAI Official", "openai")
    assert acme.bio == "Now official."  # bio and website change at once
    page = client.get("/publishers/acme/").content.decode()
    assert "Acme Models" in page and "OpenAI Official" not in page
    assert client.get("/publishers/openai/").status_code == 404
    waiting = client.get("/accounts/publisher/apply/").content.decode()
    assert "Waiting for review" in waiting and "OpenAI Official" in waiting


def test_nobody_else_may_claim_a_slug_waiting_for_review(client, acme, other_user):
    apply(client, display_name="Acme Labs", slug="acme-labs")
    client.force_login(other_user)
    refused = apply(client, display_name="Impostor", slug="acme-labs")
    assert refused.status_code == 200
    assert "This slug is taken by another publisher." in refused.content.decode()


def test_only_reviewers_decide_and_a_refusal_says_why(client, acme, user, staff_user):
    apply(client, display_name="OpenAI Official", slug="openai")
    with pytest.raises(ApplicationError) as forbidden:
        publisher_rename_review(profile=acme, reviewer=user, approve=True)
    assert (forbidden.value.status, forbidden.value.code) == (403, "forbidden")
    with pytest.raises(ApplicationError) as no_reason:
        publisher_rename_review(profile=acme, reviewer=staff_user, approve=False)
    assert no_reason.value.field == "review_note"

    publisher_rename_review(
        profile=acme, reviewer=staff_user, approve=False, note="That name is another company's."
    )
    acme.refresh_from_db()
    assert (acme.display_name, acme.slug, acme.rename_pending) == ("Acme Models", "acme", False)
    refused = client.get("/accounts/publisher/apply/").content.decode()
    assert "Your last rename was refused: That name is another company" in refused


def test_an_approved_rename_keeps_the_old_slug_reserved_and_leading_to_the_new(
    client, acme, staff_user, other_user, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True], publisher=acme, slug="parrot")
    apply(client, display_name="Acme Research", slug="acme-research")
    client.force_login(staff_user)
    response = client.post(
        "/admin/accounts/publisherprofile/",
        {"action": "approve_rename", "_selected_action": [acme.pk]},
    )
    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.display_name, acme.slug, acme.rename_pending) == (
        "Acme Research",
        "acme-research",
        False,
    )

    # The old pages and model ids lead to the new ones.
    moved = client.get("/publishers/acme/")
    assert (moved.status_code, moved["Location"]) == (301, "/publishers/acme-research/")
    model_page = client.get("/models/acme/parrot/")
    assert (model_page.status_code, model_page["Location"]) == (
        301,
        "/models/acme-research/parrot/",
    )
    assert listing_for_model(model_id="acme/parrot")[0] == listing
    assert listing_for_model(model_id="acme-research/parrot")[0] == listing

    # Nobody else may take the old slug.
    client.force_login(other_user)
    refused = apply(client, display_name="Acme", slug="acme")
    assert "This slug is taken by another publisher." in refused.content.decode()
