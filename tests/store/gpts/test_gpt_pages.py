"""The GPT pages through the Django test client: the store shows approved GPTs only, by
category and search; a GPT's page never shows its instructions; the builder's and the
curator's pages do their work and refuse outsiders."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from store.gpts import services
from store.gpts.models import Gpt
from tests.store.gpts.builders import category, draft_gpt, metered_listing, published_gpt
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "Never reveal: the password is swordfish."


@pytest.fixture
def listing(tiny_model_dirs):  # noqa: F811
    return metered_listing(tiny_model_dirs[True])


@pytest.fixture
def curator():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_gpt"))
    return staff


@pytest.fixture
def listed(user, listing, curator):
    return published_gpt(
        user, listing, visibility=Gpt.Visibility.PUBLIC, curator=curator, instructions=SECRET
    )


def test_the_store_lists_approved_gpts_only(client, listed, other_user, listing):
    pending = draft_gpt(other_user, listing, name="Waiting one")
    services.gpt_publish(gpt=pending, actor=other_user, visibility="link")
    page = client.get(reverse("gpts:store")).content.decode()
    assert "Capital tutor" in page
    assert "Waiting one" not in page  # shared by link: never listed


def test_search_and_categories_find_a_gpt(client, listed, user, listing, curator):
    published_gpt(
        user, listing, visibility="public", curator=curator, name="Story spinner",
        description="Writes bedtime stories.", category=category("writing"),
    )  # fmt: skip
    found = client.get(reverse("gpts:store"), {"q": "bedtime stories"}).content.decode()
    assert "Story spinner" in found and "Capital tutor" not in found
    writing = client.get(reverse("gpts:store"), {"category": "writing"}).content.decode()
    assert "Story spinner" in writing and "Capital tutor" not in writing
    nothing = client.get(reverse("gpts:store"), {"q": "quantum zebra"}).content.decode()
    assert "No GPT matches" in nothing


def test_a_gpts_page_never_shows_its_instructions(client, listed, other_user):
    client.force_login(other_user)
    page = client.get(reverse("gpts:detail", args=[listed.profile.handle, listed.slug]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Capital tutor" in body and listed.model_id in body
    assert "swordfish" not in body
    chat = client.get(reverse("gpts:chat", args=[listed.profile.handle, listed.slug]))
    assert chat.status_code == 200 and "swordfish" not in chat.content.decode()


def test_a_private_gpt_is_a_404_for_others(client, user, other_user, listing):
    gpt = services.gpt_publish(gpt=draft_gpt(user, listing), actor=user, visibility="private")
    client.force_login(other_user)
    assert (
        client.get(reverse("gpts:detail", args=[gpt.profile.handle, gpt.slug])).status_code == 404
    )
    assert client.get(reverse("gpts:chat", args=[gpt.profile.handle, gpt.slug])).status_code == 404
    client.force_login(user)
    assert (
        client.get(reverse("gpts:detail", args=[gpt.profile.handle, gpt.slug])).status_code == 200
    )


def test_the_builder_creates_and_edits_a_gpt_through_the_form(client, user, listing):
    client.force_login(user)
    response = client.post(
        reverse("gpts:new"),
        {
            "name": "Helper", "description": "Helps.", "category": category().pk,
            "base_listing": listing.pk, "instructions": "Be brief.",
            "starters": "First\nSecond\n\n", "temperature": "0.5", "max_tokens": "64",
            "markup_per_mtok": "3",
        },
    )  # fmt: skip
    gpt = Gpt.objects.get(builder=user)
    assert response.status_code == 302 and response.url == reverse("gpts:edit", args=[gpt.pk])
    assert (gpt.starters, gpt.temperature, gpt.markup_per_mtok) == (["First", "Second"], 0.5, 3)
    page = client.get(response.url).content.decode()
    assert "Be brief." in page  # the builder sees their own instructions
    upload = client.post(
        reverse("gpts:knowledge-add", args=[gpt.pk]),
        {"file": _named(b"Refunds take 14 days.", "faq.txt")},
        follow=True,
    )
    assert "faq.txt added: 1 passages indexed." in upload.content.decode()
    refused = client.post(
        reverse("gpts:knowledge-add", args=[gpt.pk]),
        {"file": _named(b"\x00\x01", "weights.bin")},
        follow=True,
    )
    assert "Knowledge files are text (.txt)" in refused.content.decode()
    assert gpt.knowledge.count() == 1


def test_the_builder_pages_are_theirs_alone(client, user, other_user, listing):
    gpt = draft_gpt(user, listing)
    client.force_login(other_user)
    assert client.get(reverse("gpts:edit", args=[gpt.pk])).status_code == 404
    response = client.post(reverse("gpts:publish", args=[gpt.pk]), {"visibility": "link"})
    assert response.status_code == 404
    gpt.refresh_from_db()
    assert gpt.published_id is None


def test_an_avatar_is_checked_and_resized(client, user, listing):
    import io

    from PIL import Image

    gpt = draft_gpt(user, listing)
    client.force_login(user)
    image = io.BytesIO()
    Image.new("RGB", (640, 320), "red").save(image, format="JPEG")
    client.post(
        reverse("gpts:avatar-upload", args=[gpt.pk]),
        {"avatar": _named(image.getvalue(), "me.jpg")},
    )
    gpt.refresh_from_db()
    served = client.get(reverse("gpts:avatar", args=[gpt.profile.handle, gpt.slug]))
    assert served["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (256, 256)
    refused = client.post(
        reverse("gpts:avatar-upload", args=[gpt.pk]),
        {"avatar": _named(b"GIF89a not really", "fake.gif")},
        follow=True,
    )
    assert "This file is not an image we can read." in refused.content.decode()


def test_the_curator_page_needs_the_permission(client, user, listing, curator):
    from tests.store.gpts.builders import verified

    verified(user)
    gpt = services.gpt_publish(gpt=draft_gpt(user, listing), actor=user, visibility="public")
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("gpts:curate")).status_code == 404
    client.force_login(curator)
    assert "Capital tutor" in client.get(reverse("gpts:curate")).content.decode()
    client.post(reverse("gpts:curate-action", args=[gpt.pk, "approve"]))
    gpt.refresh_from_db()
    assert gpt.review == "approved"
    rejected = client.post(
        reverse("gpts:curate-action", args=[gpt.pk, "reject"]), {"reason": "Late."}, follow=True
    )
    assert "Nothing of this GPT waits for review." in rejected.content.decode()


def test_the_builder_home_shows_each_gpt_with_its_numbers(client, user, listed):
    client.force_login(user)
    page = client.get(reverse("gpts:builder")).content.decode()
    assert listed.model_id in page
    assert 'data-testid="row-conversations">0<' in page


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_the_store_front_shows_featured_trending_and_category_tops(
    client, user, other_user, listing, curator
):
    from store.gpts.models import Conversation

    quiet = published_gpt(user, listing, visibility="public", curator=curator, name="Quiet one")
    busy = published_gpt(
        user, listing, visibility="public", curator=curator, name="Busy one",
        category=category("writing"),
    )  # fmt: skip
    for _ in range(3):
        Conversation.objects.create(gpt=busy, user=other_user, title="Hi")
    services.gpt_feature(gpt=quiet, actor=curator, featured=True)

    front = client.get(reverse("gpts:store")).content.decode()
    featured = front.split('data-testid="featured"')[1].split("</section>")[0]
    trending = front.split('data-testid="trending"')[1].split("</section>")[0]
    writing = front.split('data-testid="shelf-writing"')[1].split("</section>")[0]
    assert "Quiet one" in featured and "Busy one" not in featured
    assert "Busy one" in trending and "Quiet one" not in trending
    assert "3 conversations" in writing


def test_a_report_reaches_the_curator_page(client, listed, other_user, curator):
    client.force_login(other_user)
    client.post(
        reverse("gpts:report", args=[listed.profile.handle, listed.slug]),
        {"reason": "It gives wrong capitals."},
    )
    client.force_login(curator)
    assert "It gives wrong capitals." in client.get(reverse("gpts:curate")).content.decode()
