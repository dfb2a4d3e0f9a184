"""Reviews: verified customers only, one per customer, the average follows every change."""

import pytest

from billing.services.orders import grant_create
from config.api_errors import ApplicationError
from store.models import Listing, Review
from store.services import review_create, review_delete, review_update
from tests.support.factories import published_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(publisher):
    return published_listing(publisher=publisher, name="Reviewed model")


@pytest.fixture
def customer(user, listing):
    grant_create(user=user, listing=listing, actor=None, purchase=True)
    return user


def review_url(listing):
    return f"/models/{listing.publisher.slug}/{listing.slug}/review/"


def test_a_customer_sees_the_form_and_publishes_a_review(client, customer, listing):
    client.force_login(customer)
    assert 'data-testid="review-form"' in client.get(listing.get_absolute_url()).content.decode()

    response = client.post(
        review_url(listing), {"stars": "4", "text": "Quick and honest."}, follow=True
    )

    body = response.content.decode()
    assert "Thanks, your review is published." in body
    assert "Quick and honest." in body
    assert "4.0" in body and "1 review" in body
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (4.0, 1)


def test_someone_who_never_bought_or_used_the_model_cannot_review(client, other_user, listing):
    client.force_login(other_user)
    assert (
        'data-testid="review-form"' not in client.get(listing.get_absolute_url()).content.decode()
    )
    response = client.post(review_url(listing), {"stars": "1", "text": "Fake."}, follow=True)
    assert (
        "Buy this model or use it with a rental before reviewing it." in response.content.decode()
    )
    assert not Review.objects.exists()


def test_the_publisher_cannot_review_their_own_model(publisher, listing):
    grant_create(user=publisher.user, listing=listing, actor=None, purchase=True)
    with pytest.raises(ApplicationError) as error:
        review_create(listing=listing, author=publisher.user, stars=5)
    assert error.value.status == 403


def test_anonymous_visitors_are_sent_to_log_in(client, listing):
    assert (
        'data-testid="review-form"' not in client.get(listing.get_absolute_url()).content.decode()
    )
    response = client.post(review_url(listing), {"stars": "5"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Review.objects.exists()


def test_a_second_post_edits_the_review_instead_of_adding_one(client, customer, listing):
    client.force_login(customer)
    client.post(review_url(listing), {"stars": "2", "text": "Meh."})
    assert "Edit your review" in client.get(listing.get_absolute_url()).content.decode()
    client.post(review_url(listing), {"stars": "5", "text": "Better after the update."})

    review = Review.objects.get()
    assert (review.stars, review.text) == (5, "Better after the update.")
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (5.0, 1)


def test_the_service_refuses_a_duplicate_review(customer, listing):
    review_create(listing=listing, author=customer, stars=3)
    with pytest.raises(ApplicationError) as error:
        review_create(listing=listing, author=customer, stars=4)
    assert error.value.code == "duplicate_review"


@pytest.mark.parametrize("stars", [0, 6, "x", None])
def test_stars_must_be_between_one_and_five(customer, listing, stars):
    with pytest.raises(ApplicationError) as error:
        review_create(listing=listing, author=customer, stars=stars)
    assert error.value.field == "stars"


def test_the_average_follows_several_reviews_and_deletions(
    customer, other_user, listing, staff_user
):
    grant_create(user=other_user, listing=listing, actor=None, purchase=True)
    review_create(listing=listing, author=customer, stars=5)
    second = review_create(listing=listing, author=other_user, stars=2)
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (3.5, 2)

    review_delete(review_id=second.pk, actor=staff_user)
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (5.0, 1)


def test_only_the_author_edits_a_review(customer, other_user, listing):
    review = review_create(listing=listing, author=customer, stars=4)
    with pytest.raises(ApplicationError) as error:
        review_update(review_id=review.pk, author=other_user, stars=1)
    assert error.value.status == 403
    review.refresh_from_db()
    assert review.stars == 4


def test_the_author_and_staff_may_delete_others_may_not(
    client, customer, other_user, staff_user, listing
):
    review = review_create(listing=listing, author=customer, stars=4)
    client.force_login(other_user)
    assert client.post(f"/reviews/{review.pk}/delete/").status_code == 403
    assert Review.objects.filter(pk=review.pk).exists()

    client.force_login(customer)
    response = client.post(f"/reviews/{review.pk}/delete/", follow=True)
    assert "The review is deleted." in response.content.decode()
    assert not Review.objects.exists()

    again = review_create(listing=listing, author=customer, stars=1)
    client.force_login(staff_user)
    client.post(f"/reviews/{again.pk}/delete/")
    assert not Review.objects.exists()
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (None, 0)


def test_hidden_listings_cannot_be_reviewed(customer, listing):
    Listing.objects.filter(pk=listing.pk).update(status="delisted")
    listing.refresh_from_db()
    with pytest.raises(ApplicationError) as error:
        review_create(listing=listing, author=customer, stars=4)
    assert error.value.code == "not_public"


def test_a_rental_customer_who_used_tokens_may_review(client, other_user, listing):
    from billing.services.quota import quota_hold, quota_settle

    grant_create(user=other_user, listing=listing, actor=None, tokens=10_000, days=30)
    client.force_login(other_user)
    assert (
        'data-testid="review-form"' not in client.get(listing.get_absolute_url()).content.decode()
    )

    quota_hold(user=other_user, listing=listing, tokens=100, request_id="req-review-1")
    quota_settle(request_id="req-review-1", used_tokens=40)

    assert 'data-testid="review-form"' in client.get(listing.get_absolute_url()).content.decode()
