"""A GPT from draft to the store: validation that says what is wrong, publishing that freezes
a revision, review before the public store, who may use it, and an audit entry for each step."""

import pytest
from django.db import IntegrityError, InternalError, transaction

from config.api_errors import ApplicationError
from store.gpts import policies, services
from store.gpts.models import Gpt, GptAuditEntry, GptRevision, KnowledgeFile
from tests.store.gpts.builders import draft_gpt, metered_listing, published_gpt, verified
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(tiny_model_dirs):  # noqa: F811
    return metered_listing(tiny_model_dirs[True])


@pytest.fixture
def curator(django_user_model):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_gpt"))
    return django_user_model.objects.get(pk=staff.pk)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"starters": ["a", "b", "c", "d", "e"]}, "starters", "at most 4"),
        ({"starters": ["x" * 201]}, "starters", "200 characters"),
        ({"instructions": "x" * 8001}, "instructions", "8,000"),
        ({"temperature": 2.5}, "temperature", "between 0 and 2"),
        ({"max_tokens": 0}, "max_tokens", "between 1 and 4096"),
        ({"markup_per_mtok": -1}, "markup_per_mtok", "cents per 1M tokens"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_a_bad_draft_is_refused_saying_what_is_wrong(user, listing, fields, field, says):
    with pytest.raises(ApplicationError) as refused:
        draft_gpt(user, listing, **fields)
    assert refused.value.field == field
    assert says in refused.value.message
    assert not Gpt.objects.exists()


def test_a_model_not_sold_per_token_cannot_be_a_base(user, tiny_model_dirs):  # noqa: F811
    from tests.support.servable import servable_listing

    with pytest.raises(ApplicationError) as refused:
        draft_gpt(user, servable_listing(tiny_model_dirs[True]))
    assert refused.value.code == "invalid_base_model"


def test_publishing_freezes_a_revision_that_draft_edits_do_not_change(user, other_user, listing):
    gpt = draft_gpt(user, listing)
    assert not policies.may_use(other_user, gpt)  # a draft is nobody's to use
    gpt = services.gpt_publish(gpt=gpt, actor=user, visibility=Gpt.Visibility.LINK)
    revision = gpt.published
    assert (revision.number, revision.instructions) == (1, gpt.instructions)
    assert policies.may_use(other_user, gpt)

    services.gpt_update(gpt=gpt, actor=user, instructions="Answer in French.", name="Tuteur")
    gpt.refresh_from_db()
    assert gpt.published.instructions == "You are a patient tutor. Answer in one sentence."
    assert gpt.published.name == "Capital tutor"
    gpt = services.gpt_publish(gpt=gpt, actor=user, visibility=Gpt.Visibility.LINK)
    assert (gpt.published.number, gpt.published.instructions) == (2, "Answer in French.")


def test_the_database_refuses_to_change_a_published_revision(user, listing):
    gpt = published_gpt(user, listing)
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        GptRevision.objects.filter(pk=gpt.published_id).update(instructions="changed")


def test_knowledge_removed_from_the_draft_still_answers_for_the_published_revision(user, listing):
    gpt = draft_gpt(user, listing)
    item = services.knowledge_add(gpt=gpt, actor=user, name="a.txt", data=b"Paris is a city.")
    gpt = services.gpt_publish(gpt=gpt, actor=user, visibility=Gpt.Visibility.LINK)
    services.knowledge_remove(gpt=gpt, actor=user, file_id=item.pk)
    assert list(gpt.knowledge.all()) == []
    assert list(gpt.published.knowledge.all()) == [item]


def test_knowledge_limits_refuse_and_leave_nothing_behind(user, listing, settings):
    gpt = draft_gpt(user, listing)
    settings.GPT_KNOWLEDGE_MAX_BYTES = 10
    with pytest.raises(ApplicationError) as too_big:
        services.knowledge_add(gpt=gpt, actor=user, name="big.txt", data=b"x" * 11)
    assert too_big.value.code == "file_too_large"
    settings.GPT_KNOWLEDGE_MAX_BYTES = 1000
    settings.GPT_KNOWLEDGE_MAX_FILES = 1
    services.knowledge_add(gpt=gpt, actor=user, name="one.txt", data=b"one")
    with pytest.raises(ApplicationError) as too_many:
        services.knowledge_add(gpt=gpt, actor=user, name="two.txt", data=b"two")
    assert too_many.value.code == "too_many_files"
    assert list(KnowledgeFile.objects.values_list("name", flat=True)) == ["one.txt"]


def test_only_its_builder_edits_a_gpt(user, other_user, listing):
    gpt = draft_gpt(user, listing)
    for attempt in (
        lambda: services.gpt_update(gpt=gpt, actor=other_user, name="Mine now"),
        lambda: services.knowledge_add(gpt=gpt, actor=other_user, name="a.txt", data=b"x"),
        lambda: services.gpt_publish(gpt=gpt, actor=other_user, visibility="link"),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert (refused.value.status, refused.value.code) == (403, "forbidden")


def test_the_public_store_needs_a_verified_builder(user, listing):
    gpt = draft_gpt(user, listing)
    with pytest.raises(ApplicationError) as refused:
        services.gpt_publish(gpt=gpt, actor=user, visibility=Gpt.Visibility.PUBLIC)
    assert (refused.value.status, refused.value.code) == (403, "builder_not_verified")
    gpt.refresh_from_db()
    assert (gpt.published_id, gpt.review, gpt.revisions.count()) == (None, "none", 0)


def test_a_public_gpt_reaches_customers_only_when_approved(user, other_user, listing, curator):
    verified(user)
    gpt = services.gpt_publish(
        gpt=draft_gpt(user, listing), actor=user, visibility=Gpt.Visibility.PUBLIC
    )
    assert (gpt.review, gpt.published_id) == ("pending", None)
    assert not policies.may_use(other_user, gpt)
    gpt = services.gpt_approve(gpt=gpt, actor=curator)
    assert policies.is_listed(gpt) and policies.may_use(other_user, gpt)

    # A new public revision waits for review; customers keep the approved one meanwhile.
    services.gpt_update(gpt=gpt, actor=user, instructions="Be rude.")
    gpt = services.gpt_publish(gpt=gpt, actor=user, visibility=Gpt.Visibility.PUBLIC)
    assert (gpt.published.number, gpt.submitted.number, gpt.review) == (1, 2, "pending")
    assert not policies.is_listed(gpt)  # listed again once decided
    gpt = services.gpt_reject(gpt=gpt, actor=curator, reason="Rude instructions.")
    assert (gpt.published.number, gpt.submitted_id, gpt.review) == (1, None, "approved")
    assert gpt.review_note == "Rude instructions."
    assert policies.may_use(other_user, gpt)


def test_a_delisted_gpt_is_gone_for_customers_but_kept_by_its_builder(
    user, other_user, listing, curator
):
    gpt = published_gpt(user, listing, visibility=Gpt.Visibility.PUBLIC, curator=curator)
    gpt = services.gpt_delist(gpt=gpt, actor=curator, reason="Misleading.")
    assert not policies.may_use(other_user, gpt)
    assert policies.may_use(user, gpt)


def test_curation_needs_the_permission_not_only_staff(user, listing):
    staff_without = UserFactory(is_staff=True)
    verified(user)
    gpt = services.gpt_publish(gpt=draft_gpt(user, listing), actor=user, visibility="public")
    with pytest.raises(ApplicationError) as refused:
        services.gpt_approve(gpt=gpt, actor=staff_without)
    assert refused.value.status == 403
    gpt.refresh_from_db()
    assert gpt.review == "pending"


def test_the_safeguards_keep_a_gpt_breaking_the_content_policy_out_of_the_public_store(
    user, listing
):
    from inference.models import BlockedPattern
    from inference.safeguards import patterns_changed

    BlockedPattern.objects.create(pattern="build a weapon", reason="Weapons.", active=True)
    patterns_changed()
    verified(user)
    gpt = draft_gpt(user, listing)
    services.knowledge_add(
        gpt=gpt, actor=user, name="bad.txt", data=b"Steps to build a weapon at home."
    )
    with pytest.raises(ApplicationError) as refused:
        services.gpt_publish(gpt=gpt, actor=user, visibility="public")
    assert refused.value.code == "content_policy_violation"
    assert "bad.txt" in refused.value.message
    gpt.refresh_from_db()
    assert gpt.review == "none"


def test_every_change_is_audited_with_who_did_it(user, listing, curator):
    gpt = published_gpt(user, listing, visibility=Gpt.Visibility.PUBLIC, curator=curator)
    services.gpt_feature(gpt=gpt, actor=curator, featured=True)
    trail = list(
        GptAuditEntry.objects.filter(gpt=gpt).order_by("id").values_list("action", "actor")
    )
    assert trail == [
        ("created", user.pk),
        ("submitted for review", user.pk),
        ("approved", curator.pk),
        ("featured", curator.pk),
    ]


def test_ratings_come_only_from_people_who_chatted(user, other_user, listing):
    from store.gpts.models import ChatMessage, Conversation

    gpt = published_gpt(user, listing)
    with pytest.raises(ApplicationError) as refused:
        services.gpt_rate(gpt=gpt, user=other_user, stars=5)
    assert refused.value.code == "not_allowed"
    conversation = Conversation.objects.create(gpt=gpt, user=other_user, title="Hi")
    ChatMessage.objects.create(conversation=conversation, role="assistant", content="Hello")
    services.gpt_rate(gpt=gpt, user=other_user, stars=4, text="Good")
    services.gpt_rate(gpt=gpt, user=other_user, stars=5)  # changes their rating
    assert list(gpt.ratings.values_list("stars", flat=True)) == [5]
    with pytest.raises(ApplicationError):
        services.gpt_rate(gpt=gpt, user=user, stars=5)  # never its builder
