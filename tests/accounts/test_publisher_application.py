import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from accounts.admin import PublisherProfileAdmin
from accounts.models import PublisherProfile

pytestmark = pytest.mark.django_db


def apply(client, **overrides):
    data = {
        "display_name": "Acme Models",
        "slug": "acme",
        "bio": "We train small models.",
        "website": "https://acme.test",
    }
    data.update(overrides)
    return client.post("/accounts/publisher/apply/", data)


def test_a_customer_applies_and_waits_for_review(client, user):
    client.force_login(user)
    assert apply(client).status_code == 302
    profile = PublisherProfile.objects.get(user=user)
    assert profile.status == "pending"
    user.refresh_from_db()
    assert user.role == "customer"
    assert "pending review" in client.get("/accounts/").content.decode()


def test_staff_approve_in_the_admin_and_the_customer_becomes_a_publisher(client, user, staff_user):
    client.force_login(user)
    apply(client)
    client.force_login(staff_user)
    profile = PublisherProfile.objects.get(user=user)
    response = client.post(
        "/admin/accounts/publisherprofile/",
        {"action": "approve_and_verify", "_selected_action": [profile.pk]},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.status, profile.verified, profile.reviewed_by) == ("approved", True, staff_user)
    user.refresh_from_db()
    assert user.role == "publisher"


def test_a_rejected_applicant_sees_the_reason_and_can_reapply(client, user, staff_user):
    client.force_login(user)
    apply(client)
    profile = PublisherProfile.objects.get(user=user)
    profile.review_note = "Tell us what models you plan to publish."
    profile.save()
    admin = PublisherProfileAdmin(PublisherProfile, site)
    request = RequestFactory().post("/")
    request.user = staff_user
    admin.message_user = lambda *args, **kwargs: None
    admin.reject(request, PublisherProfile.objects.filter(pk=profile.pk))
    profile.refresh_from_db()
    assert profile.status == "rejected"
    assert "Tell us what models" in client.get("/accounts/").content.decode()
    apply(client, bio="Small chat models for support desks.")
    profile.refresh_from_db()
    assert profile.status == "pending"


def test_a_taken_slug_is_refused_clearly(client, user, publisher):
    client.force_login(user)
    response = apply(client, slug=publisher.slug)
    assert "This slug is taken by another publisher." in response.content.decode()


def test_non_staff_cannot_reach_the_admin(client, user):
    client.force_login(user)
    assert client.get("/admin/accounts/publisherprofile/").status_code == 302


def test_anonymous_must_log_in_to_apply(client):
    assert client.get("/accounts/publisher/apply/")["Location"].startswith("/accounts/login/")


def test_roles(user, staff_user, publisher):
    assert user.role == "customer"
    assert staff_user.role == "staff"
    assert publisher.user.role == "publisher"
