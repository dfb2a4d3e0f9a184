"""Every URL of the store × every kind of visitor: one table, one expected status each.

Roles: anonymous, a customer who owns the objects in the URL (their order, key, review), another
customer, the publisher who owns the listing in the URL, another publisher, staff without
permissions and staff (a superuser). A URL added without a row here fails
``test_every_url_has_a_row``: deciding who may open it is part of adding it.
"""

import json
from uuid import uuid4

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver

from billing.services import order_start, topup_start
from store.models import ListingReport, Review
from tests.support.factories import (
    ApiKeyFactory,
    ListingFactory,
    ListingVersionFactory,
    PublisherFactory,
    UserFactory,
    rental_price,
)

pytestmark = pytest.mark.django_db

ROLES = ["anon", "owner", "other", "publisher", "other_pub", "staff_noperm", "staff"]


def row(anon, owner, other, publisher, other_pub, staff_noperm, staff):
    return dict(
        zip(ROLES, [anon, owner, other, publisher, other_pub, staff_noperm, staff], strict=True)
    )


def same(status):
    return row(*[status] * 7)


def login_only(status=200):
    return row(302, *[status] * 6)


# route pattern -> (method, path template, {role: status}). Templates are filled from the
# objects of the fixture below: {listing}, {option}, {order}, {topup}, {key}, {review}, {report},
# {version}, {publisher_slug}, {listing_slug}, {model_id}.
MATRIX = {
    # Anyone may ask; up (200) or not (503) depends on whether a worker another test started
    # is sending heartbeats at that moment, which is not this test's concern.
    "healthz": ("GET", "/healthz", same((200, 503))),
    "metrics": ("GET", "/metrics", same(404)),  # no METRICS_TOKEN set: not served at all
    "favicon.ico": ("GET", "/favicon.ico", same(301)),
    "api/schema/": ("GET", "/api/schema/", same(200)),
    "api/docs/": ("GET", "/api/docs/", same(200)),
    "api/catalog/listings/": ("GET", "/api/catalog/listings/", same(200)),
    "api/catalog/listings/<slug:publisher_slug>/<slug:listing_slug>/": (
        "GET",
        "/api/catalog/listings/{publisher_slug}/{listing_slug}/",
        same(200),
    ),
    r"api/catalog/^[\s\S]*$": ("GET", "/api/catalog/nothing-here", same(404)),
    "accounts/": ("GET", "/accounts/", login_only()),
    "accounts/signup/": ("GET", "/accounts/signup/", row(200, *[302] * 6)),
    "accounts/login/": ("GET", "/accounts/login/", same(200)),
    "accounts/logout/": ("POST", "/accounts/logout/", same(302)),
    "accounts/password/change/": ("GET", "/accounts/password/change/", login_only()),
    "accounts/password/change/done/": ("GET", "/accounts/password/change/done/", login_only()),
    "accounts/password/reset/": ("GET", "/accounts/password/reset/", same(200)),
    "accounts/password/reset/sent/": ("GET", "/accounts/password/reset/sent/", same(200)),
    "accounts/password/reset/<uidb64>/<token>/": (
        "GET",
        "/accounts/password/reset/MQ/bad-token/",
        same(200),  # "this link is no longer valid"
    ),
    "accounts/password/reset/complete/": ("GET", "/accounts/password/reset/complete/", same(200)),
    "accounts/keys/": ("GET", "/accounts/keys/", login_only()),
    "accounts/keys/<int:key_id>/revoke/": (
        "POST",
        "/accounts/keys/{key}/revoke/",
        row(302, 302, 404, 404, 404, 404, 404),
    ),
    "accounts/publisher/apply/": ("GET", "/accounts/publisher/apply/", login_only()),
    "billing/webhook/stripe/": ("POST", "/billing/webhook/stripe/", same(400)),  # unsigned
    "billing/listings/<int:listing_id>/pricing/": (
        "GET",
        "/billing/listings/{listing}/pricing/",
        row(302, 403, 403, 200, 403, 403, 200),
    ),
    "billing/listings/<int:listing_id>/pricing/<int:option_id>/withdraw/": (
        "POST",
        "/billing/listings/{listing}/pricing/{option}/withdraw/",
        row(302, 403, 403, 302, 403, 403, 302),
    ),
    "billing/checkout/<int:option_id>/": (
        "GET",
        "/billing/checkout/{option}/",
        row(302, 200, 200, 200, 200, 200, 200),
    ),
    "billing/orders/": ("GET", "/billing/orders/", login_only()),
    "billing/orders/<uuid:number>/": (
        "GET",
        "/billing/orders/{order}/",
        row(302, 200, 403, 403, 403, 403, 200),
    ),
    "billing/orders/<uuid:number>/pay/": (
        "GET",
        "/billing/orders/{order}/pay/",
        row(302, 200, 403, 403, 403, 403, 302),
    ),
    "billing/orders/<uuid:number>/pay/token/": (
        "POST",
        "/billing/orders/{order}/pay/token/",
        row(302, 400, 403, 403, 403, 403, 403),
    ),
    "billing/orders/<uuid:number>/complete/": (
        "GET",
        "/billing/orders/{order}/complete/",
        row(302, 302, 403, 403, 403, 403, 302),
    ),
    "billing/library/": ("GET", "/billing/library/", login_only()),
    "billing/downloads/<str:token>/": (
        "GET",
        "/billing/downloads/not-a-token/",
        row(302, *[404] * 6),
    ),
    "billing/quota/": ("GET", "/billing/quota/", login_only()),
    "billing/credits/": ("GET", "/billing/credits/", login_only()),
    "billing/credits/topup/": ("POST", "/billing/credits/topup/", login_only(302)),
    "billing/credits/topups/<uuid:number>/": (
        "GET",
        "/billing/credits/topups/{topup}/",
        row(302, 200, 403, 403, 403, 403, 200),
    ),
    "billing/credits/topups/<uuid:number>/pay/": (
        "GET",
        "/billing/credits/topups/{topup}/pay/",
        row(302, 200, 403, 403, 403, 403, 302),
    ),
    "billing/credits/topups/<uuid:number>/pay/token/": (
        "POST",
        "/billing/credits/topups/{topup}/pay/token/",
        row(302, 400, 403, 403, 403, 403, 403),
    ),
    "billing/credits/topups/<uuid:number>/complete/": (
        "GET",
        "/billing/credits/topups/{topup}/complete/",
        row(302, 302, 403, 403, 403, 403, 302),
    ),
    "billing/earnings/": ("GET", "/billing/earnings/", row(302, 403, 403, 200, 200, 403, 403)),
    "billing/earnings/payout.csv": (
        "GET",
        "/billing/earnings/payout.csv",
        row(302, 403, 403, 200, 200, 403, 403),
    ),
    "v1/models": ("GET", "/v1/models", row(401, *[200] * 6)),
    "v1/models/<path:model_id>": (
        "GET",
        "/v1/models/{model_id}",
        # Its publisher may call it (and sees it); nobody else owns or rents it.
        row(401, 404, 404, 200, 404, 404, 404),
    ),
    "v1/chat/completions": ("POST", "/v1/chat/completions", row(401, *[400] * 6)),
    "v1/completions": ("POST", "/v1/completions", row(401, *[400] * 6)),
    "v1/files": ("GET", "/v1/files", row(401, *[200] * 6)),
    "v1/files/<str:file_id>": ("GET", "/v1/files/{file_id}", row(401, 200, *[404] * 5)),
    "v1/files/<str:file_id>/content": (
        "GET",
        "/v1/files/{file_id}/content",
        row(401, 200, *[404] * 5),
    ),
    "v1/fine_tuning/jobs": ("GET", "/v1/fine_tuning/jobs", row(401, *[200] * 6)),
    "v1/fine_tuning/jobs/<str:job_id>": (
        "GET",
        "/v1/fine_tuning/jobs/{job_id}",
        row(401, 200, *[404] * 5),
    ),
    "v1/fine_tuning/jobs/<str:job_id>/cancel": (
        "POST",
        "/v1/fine_tuning/jobs/{job_id}/cancel",
        row(401, 400, *[404] * 5),  # the owner's job has finished: nothing to cancel
    ),
    "v1/fine_tuning/jobs/<str:job_id>/events": (
        "GET",
        "/v1/fine_tuning/jobs/{job_id}/events",
        row(401, 200, *[404] * 5),
    ),
    "v1/fine_tuning/jobs/<str:job_id>/checkpoints": (
        "GET",
        "/v1/fine_tuning/jobs/{job_id}/checkpoints",
        row(401, 200, *[404] * 5),
    ),
    r"v1/^[\s\S]*$": ("GET", "/v1/nothing-here", row(404, *[404] * 6)),
    "fine-tuning/": ("GET", "/fine-tuning/", login_only()),
    "fine-tuning/files": ("POST", "/fine-tuning/files", row(302, *[400] * 6)),  # no file
    "fine-tuning/estimate": ("POST", "/fine-tuning/estimate", row(302, *[400] * 6)),
    "fine-tuning/jobs/<str:job_id>/": (
        "GET",
        "/fine-tuning/jobs/{job_id}/",
        row(302, 200, *[404] * 5),
    ),
    "fine-tuning/jobs/<str:job_id>/status.json": (
        "GET",
        "/fine-tuning/jobs/{job_id}/status.json",
        row(302, 200, *[404] * 5),
    ),
    "fine-tuning/jobs/<str:job_id>/cancel": (
        "POST",
        "/fine-tuning/jobs/{job_id}/cancel",
        row(302, 302, *[404] * 5),
    ),
    "fine-tuning/models/<int:model_id>/files/<path:path>": (
        "GET",
        "/fine-tuning/models/{ft_model}/files/config.json",
        row(302, 200, *[404] * 5),  # the fine-tuned model's owner only
    ),
    "fine-tuning/models/<int:model_id>/publish": (
        "GET",
        "/fine-tuning/models/{ft_model}/publish",
        row(302, 200, *[404] * 5),  # the owner sees the form, or why they may not publish
    ),
    "fine-tuning/terms/<int:listing_id>/": (
        "GET",
        "/fine-tuning/terms/{listing}/",
        row(302, 403, 403, 200, 403, 403, 200),
    ),
    "playground/": ("GET", "/playground/", login_only()),
    "playground/chat": ("POST", "/playground/chat", row(401, *[400] * 6)),
    "usage/": ("GET", "/usage/", login_only()),
    "usage/data.json": ("GET", "/usage/data.json", row(401, *[200] * 6)),
    "usage/export.csv": ("GET", "/usage/export.csv", login_only()),
    "usage/publisher/": ("GET", "/usage/publisher/", row(302, 403, 403, 200, 200, 403, 403)),
    "": ("GET", "/", same(200)),
    "publish/": ("GET", "/publish/", row(302, 302, 302, 200, 200, 200, 200)),
    "publish/new/": ("GET", "/publish/new/", row(302, 302, 302, 200, 200, 302, 302)),
    "publish/<int:listing_id>/": (
        "GET",
        "/publish/{listing}/",
        row(302, 302, 302, 200, 404, 200, 200),
    ),
    "publish/<int:listing_id>/monitoring/": (
        "GET",
        "/publish/{listing}/monitoring/",
        row(302, 404, 404, 200, 404, 200, 200),  # staff here may view listings
    ),
    "publish/<int:listing_id>/edit/": (
        "GET",
        "/publish/{listing}/edit/",
        row(302, 302, 302, 200, 404, 200, 200),
    ),
    "publish/<int:listing_id>/upload/": (
        "POST",
        "/publish/{listing}/upload/",
        row(302, 302, 302, 400, 404, 400, 400),
    ),
    "publish/<int:listing_id>/submit/": (
        "POST",
        "/publish/{listing}/submit/",
        row(302, 302, 302, 302, 404, 302, 302),
    ),
    "publish/<int:listing_id>/withdraw/": (
        "POST",
        "/publish/{listing}/withdraw/",
        row(302, 302, 302, 302, 404, 302, 302),
    ),
    "publish/versions/<int:version_id>/progress.json": (
        "GET",
        "/publish/versions/{version}/progress.json",
        row(302, 302, 302, 200, 404, 200, 200),
    ),
    "catalog/": ("GET", "/catalog/", same(200)),
    "models/<slug:publisher_slug>/<slug:listing_slug>/": (
        "GET",
        "/models/{publisher_slug}/{listing_slug}/",
        same(200),
    ),
    "models/<slug:publisher_slug>/<slug:listing_slug>/review/": (
        "POST",
        "/models/{publisher_slug}/{listing_slug}/review/",
        row(302, 302, 302, 302, 302, 302, 302),
    ),
    "models/<slug:publisher_slug>/<slug:listing_slug>/report/": (
        "POST",
        "/models/{publisher_slug}/{listing_slug}/report/",
        row(302, 302, 302, 302, 302, 302, 302),
    ),
    "reviews/<int:review_id>/delete/": (
        "POST",
        "/reviews/{review}/delete/",
        row(302, 302, 403, 403, 403, 403, 302),
    ),
    "publishers/<slug:slug>/": ("GET", "/publishers/{publisher_slug}/", same(200)),
    "curate/": ("GET", "/curate/", row(302, 403, 403, 403, 403, 403, 200)),
    "curate/listings/<int:listing_id>/": (
        "POST",
        "/curate/listings/{listing}/",
        row(302, 403, 403, 403, 403, 403, 302),
    ),
    "curate/versions/<int:version_id>/": (
        "POST",
        "/curate/versions/{version}/",
        row(302, 403, 403, 403, 403, 403, 302),
    ),
    "curate/reports/<int:report_id>/": (
        "POST",
        "/curate/reports/{report}/",
        row(302, 403, 403, 403, 403, 403, 302),
    ),
    # The admin: staff status opens it; every action needs its permission (test_admin_permissions).
    "admin/": ("GET", "/admin/", row(302, 302, 302, 302, 302, 200, 200)),
}
ADMIN_EXTRA = {
    "admin/billing/order/grant/": (
        "GET",
        "/admin/billing/order/grant/",
        row(302, 302, 302, 302, 302, 403, 200),
    ),
    "admin/billing/order/": (
        "GET",
        "/admin/billing/order/",
        row(302, 302, 302, 302, 302, 403, 200),
    ),
    "admin/billing/creditaccount/grant/": (
        "GET",
        "/admin/billing/creditaccount/grant/",
        row(302, 302, 302, 302, 302, 403, 200),
    ),
    "admin/billing/credittopup/": (
        "GET",
        "/admin/billing/credittopup/",
        row(302, 302, 302, 302, 302, 403, 200),
    ),
}

# GPTs (store/gpts). The owner built a GPT shared by link, chatted with it once, and a report
# on it waits; staff_noperm lacks change_gpt, so the curator pages are 404 to them.
OWNER_ONLY = row(302, 302, 404, 404, 404, 404, 404)
CURATOR_ONLY = row(302, 404, 404, 404, 404, 404, 302)
MATRIX.update(
    {
        "gpts/": ("GET", "/gpts/", same(200)),
        "gpts/build/": ("GET", "/gpts/build/", login_only()),
        "gpts/build/profile": ("POST", "/gpts/build/profile", same(302)),  # invalid: a message
        "gpts/build/new": ("GET", "/gpts/build/new", login_only()),
        "gpts/build/<int:gpt_id>/": (
            "GET", "/gpts/build/{gpt}/", row(302, 200, 404, 404, 404, 404, 404),
        ),
        "gpts/build/<int:gpt_id>/knowledge": ("POST", "/gpts/build/{gpt}/knowledge", OWNER_ONLY),
        "gpts/build/<int:gpt_id>/knowledge/<int:file_id>/remove": (
            "POST", "/gpts/build/{gpt}/knowledge/{knowledge_file}/remove", OWNER_ONLY,
        ),
        "gpts/build/<int:gpt_id>/avatar": ("POST", "/gpts/build/{gpt}/avatar", OWNER_ONLY),
        "gpts/build/<int:gpt_id>/publish": ("POST", "/gpts/build/{gpt}/publish", OWNER_ONLY),
        "gpts/build/<int:gpt_id>/preview": (  # JSON answers: no messages sent is a 400
            "POST", "/gpts/build/{gpt}/preview", row(401, 400, 404, 404, 404, 404, 404),
        ),
        "gpts/curate/": ("GET", "/gpts/curate/", row(302, 404, 404, 404, 404, 404, 200)),
        "gpts/curate/<int:gpt_id>/<str:action>": (
            "POST", "/gpts/curate/{gpt}/approve", CURATOR_ONLY,  # nothing pending: a message
        ),
        "gpts/curate/reports/<int:report_id>/close": (
            "POST", "/gpts/curate/reports/{gpt_report}/close", CURATOR_ONLY,
        ),
        "gpts/chat/stop": ("POST", "/gpts/chat/stop", row(302, *[404] * 6)),  # no such answer
        "gpts/conversations/<int:conversation_id>/rename": (
            "POST", "/gpts/conversations/{conversation}/rename", OWNER_ONLY,
        ),
        "gpts/conversations/<int:conversation_id>/delete": (
            "POST", "/gpts/conversations/{conversation}/delete", OWNER_ONLY,
        ),
        "gpts/<slug:handle>/<slug:slug>/": ("GET", "/gpts/{handle}/{gpt_slug}/", same(200)),
        "gpts/<slug:handle>/<slug:slug>/avatar.png": (
            "GET", "/gpts/{handle}/{gpt_slug}/avatar.png", same(404),  # it has none
        ),
        # Rating without a chat, or as its builder, and reporting with no reason: a message.
        "gpts/<slug:handle>/<slug:slug>/rate": ("POST", "/gpts/{handle}/{gpt_slug}/rate", same(302)),
        "gpts/<slug:handle>/<slug:slug>/report": (
            "POST", "/gpts/{handle}/{gpt_slug}/report", same(302),
        ),
        "gpts/<slug:handle>/<slug:slug>/chat/": (
            "GET", "/gpts/{handle}/{gpt_slug}/chat/", login_only(),
        ),
        "gpts/<slug:handle>/<slug:slug>/chat/send": (  # JSON answers: an empty message is a 400
            "POST", "/gpts/{handle}/{gpt_slug}/chat/send", row(401, *[400] * 6),
        ),
        "gpts/<slug:handle>/<slug:slug>/chat/<int:conversation_id>/": (
            "GET", "/gpts/{handle}/{gpt_slug}/chat/{conversation}/",
            row(302, 200, 404, 404, 404, 404, 404),
        ),
    }
)  # fmt: skip


def routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                yield prefix + str(pattern.pattern)
                continue
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if not route.startswith(("static/", "media/")):
                yield route


def test_every_url_has_a_row():
    assert sorted(set(routes()) - set(MATRIX)) == []


@pytest.fixture
def world(localstripe):
    """The objects the URLs name, and one account per role."""
    owner, other = UserFactory(), UserFactory()
    publisher, other_pub = PublisherFactory(), PublisherFactory()
    staff_noperm = UserFactory(is_staff=True)
    staff_noperm.user_permissions.add(Permission.objects.get(codename="view_listing"))
    staff = UserFactory(is_staff=True, is_superuser=True)
    listing = ListingFactory(publisher=publisher)
    version = ListingVersionFactory(listing=listing)
    option = rental_price(listing)
    order = order_start(user=owner, price_option_id=option.pk)
    topup = topup_start(user=owner, cents=1000)
    key, _ = ApiKeyFactory.issue(user=owner)
    review = Review.objects.create(listing=listing, author=owner, stars=4, text="Fine.")
    report = ListingReport.objects.create(
        listing=listing, reporter=owner, reason="spam", text="Spam."
    )
    file_id, job_id, ft_model = _fine_tuning_objects(owner=owner, listing=listing, version=version)
    gpt_values = _gpt_objects(owner=owner, listing=listing)
    users = {
        "anon": None,
        "owner": owner,
        "other": other,
        "publisher": publisher.user,
        "other_pub": other_pub.user,
        "staff_noperm": staff_noperm,
        "staff": staff,
    }
    values = {
        "listing": listing.pk,
        "option": option.pk,
        "order": order.number,
        "topup": topup.number,
        "key": key.pk,
        "review": review.pk,
        "report": report.pk,
        "version": version.pk,
        "publisher_slug": publisher.slug,
        "listing_slug": listing.slug,
        "model_id": listing.model_id,
        "file_id": file_id,
        "job_id": job_id,
        "ft_model": ft_model,
        **gpt_values,
    }
    return users, values


def _gpt_objects(*, owner, listing):
    """The owner's GPT shared by link (rows only), a knowledge file, a chat and a report."""
    from store.gpts.models import (
        BuilderProfile,
        Conversation,
        Gpt,
        GptCategory,
        GptReport,
        GptRevision,
        KnowledgeFile,
    )

    category, _ = GptCategory.objects.get_or_create(slug="other", defaults={"name": "Other"})
    profile = BuilderProfile.objects.create(user=owner, display_name="Owner", handle="owner")
    draft = {
        "name": "Helper", "category": category, "base_listing": listing, "temperature": 0.5,
        "max_tokens": 16, "markup_per_mtok": 0,
    }  # fmt: skip
    gpt = Gpt.objects.create(builder=owner, profile=profile, slug="helper", **draft)
    revision = GptRevision.objects.create(gpt=gpt, number=1, **draft)
    gpt.published, gpt.visibility = revision, Gpt.Visibility.LINK
    gpt.save()
    knowledge = KnowledgeFile.objects.create(
        builder=owner, name="a.txt", content_type="text", size=1, characters=1, sha256="0" * 64
    )
    gpt.knowledge.add(knowledge)
    conversation = Conversation.objects.create(gpt=gpt, user=owner, title="Hi")
    report = GptReport.objects.create(gpt=gpt, user=owner, reason="Test.")
    return {
        "gpt": gpt.pk,
        "handle": profile.handle,
        "gpt_slug": gpt.slug,
        "knowledge_file": knowledge.pk,
        "conversation": conversation.pk,
        "gpt_report": report.pk,
    }


def _fine_tuning_objects(*, owner, listing, version):
    """The owner's training file and finished job with its model (rows only: no training)."""
    from pathlib import Path

    from django.conf import settings

    from inference.training.models import FineTunedModel, FineTuningJob, TrainingFile

    training_file = TrainingFile.objects.create(
        public_id=f"file-{uuid4().hex[:24]}", user=owner, filename="d.jsonl", bytes=2,
        sha256="0" * 64, storage_path=f"fine-tuning/files/{uuid4().hex}.jsonl", format="chat",
        examples=10,
    )  # fmt: skip
    (Path(settings.MEDIA_ROOT) / training_file.storage_path).parent.mkdir(
        parents=True, exist_ok=True
    )
    (Path(settings.MEDIA_ROOT) / training_file.storage_path).write_text("{}\n")
    job = FineTuningJob.objects.create(
        public_id=f"ftjob-{uuid4().hex[:24]}", user=owner, base_listing=listing,
        base_version=version, training_file=training_file, n_epochs=1, batch_size=1,
        learning_rate_multiplier=1.0, seed=1, checkpoint_every=10, status="succeeded",
        training_tokens=10, examples=10, total_steps=10, price_per_mtok=0, held=0, charged=0,
        hold_request_id=f"training-{uuid4().hex}",
    )  # fmt: skip
    folder = f"fine-tuned/{owner.pk}/{job.public_id}"
    (Path(settings.MEDIA_ROOT) / folder).mkdir(parents=True, exist_ok=True)
    (Path(settings.MEDIA_ROOT) / folder / "config.json").write_text("{}")
    model = FineTunedModel.objects.create(
        model_id=f"ft:{listing.model_id}:owner::{job.public_id[6:14]}", owner=owner, job=job,
        base_listing=listing, base_version=version, storage_path=folder,
    )  # fmt: skip
    model.files.create(path="config.json", size_bytes=2, sha256="0" * 64)
    return training_file.public_id, job.public_id, model.pk


CASES = [(route, role) for route in sorted({**MATRIX, **ADMIN_EXTRA}) for role in ROLES]


@pytest.mark.parametrize(("route", "role"), CASES)
def test_who_may_open_what(client, world, route, role, settings):
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"
    users, values = world
    method, template, expected = {**MATRIX, **ADMIN_EXTRA}[route]
    user = users[role]
    headers = {}
    if user is not None:
        client.force_login(user)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {ApiKeyFactory.issue(user=user)[1]}"
    path = template.format(**values)
    if method == "GET":
        response = client.get(path, **headers)
    else:
        response = client.post(path, json.dumps({}), content_type="application/json", **headers)
    allowed = expected[role] if isinstance(expected[role], tuple) else (expected[role],)
    assert response.status_code in allowed, (method, path, role)


def test_a_random_order_number_is_404_for_everyone(client, world):
    users, _ = world
    client.force_login(users["staff"])
    assert client.get(f"/billing/orders/{uuid4()}/").status_code == 404
