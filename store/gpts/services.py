"""GPT writes: builder profiles, drafts, knowledge, publishing, curation, ratings, reports
and conversations.

Invariants: customers only ever use a published revision, and a revision never changes
(the database refuses an UPDATE of one); a public revision reaches customers only once a
curator approved it (until then they keep the last approved one); every change of a GPT
writes an audit entry in the same transaction.
"""

import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from billing.selectors import token_price_for
from config.api_errors import ApplicationError
from inference.models import UsageRecord
from inference.safeguards import prompt_screen
from inference.services import CompletionParams, completion_start
from store.gpts import knowledge, policies
from store.gpts.avatars import avatar_png, avatar_store
from store.gpts.completion import gpt_named
from store.gpts.models import (
    INSTRUCTIONS_MAX_CHARS,
    STARTER_MAX_CHARS,
    STARTERS_MAX,
    BuilderProfile,
    ChatMessage,
    Conversation,
    Gpt,
    GptAuditEntry,
    GptCategory,
    GptRating,
    GptReport,
    GptRevision,
    KnowledgeChunk,
    KnowledgeFile,
)
from store.gpts.selectors import has_chatted
from store.selectors import listing_for_model

DRAFT_FIELDS = (
    "name", "description", "category", "instructions", "starters", "temperature",
    "max_tokens", "base_listing", "markup_per_mtok", "avatar",
)  # fmt: skip
HISTORY_MESSAGES = 20


def _forbidden(message: str) -> ApplicationError:
    return ApplicationError(message, code="forbidden", status=403)


def _audit(gpt: Gpt, actor, action: str, note: str = "") -> None:
    GptAuditEntry.objects.create(gpt=gpt, actor=actor, action=action, note=note[:2000])


# --- builder profiles ------------------------------------------------------------------


def _free_handle(base: str) -> str:
    base = slugify(base)[:30].strip("-") or "builder"
    handle, n = base, 1
    while BuilderProfile.objects.filter(handle=handle).exists():
        n += 1
        handle = f"{base}-{n}"
    return handle


def builder_profile_for(user) -> BuilderProfile:
    """The user's builder profile, made on first use (handle from their name or e-mail)."""
    profile = BuilderProfile.objects.filter(user=user).first()
    if profile is not None:
        return profile
    name = user.name or user.email.split("@")[0]
    for _ in range(3):
        try:
            with transaction.atomic():
                return BuilderProfile.objects.create(
                    user=user, display_name=name[:100], handle=_free_handle(name)
                )
        except IntegrityError:
            profile = BuilderProfile.objects.filter(user=user).first()
            if profile is not None:
                return profile
    raise ApplicationError("Could not choose a builder handle; try again.", status=409)


def builder_profile_update(
    *, user, display_name: str, handle: str, website: str = ""
) -> BuilderProfile:
    """Changing the handle renames every GPT id of the builder; a verified builder keeps
    their verification only under the name staff checked, so a change of name resets it."""
    profile = builder_profile_for(user)
    display_name = display_name.strip()
    handle = handle.strip().lower()
    if not display_name:
        raise ApplicationError("Give your builder name.", field="display_name")
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?", handle):
        raise ApplicationError(
            "A handle is 1–40 lower-case letters, digits and dashes.", field="handle"
        )
    if BuilderProfile.objects.filter(handle=handle).exclude(pk=profile.pk).exists():
        raise ApplicationError("That handle is taken.", code="handle_taken", field="handle")
    if display_name != profile.display_name or handle != profile.handle:
        profile.verified = False
    profile.display_name, profile.handle, profile.website = (
        display_name[:100],
        handle,
        website[:200],
    )
    profile.save()
    return profile


def builder_verify(*, actor, profile: BuilderProfile, verified: bool = True) -> BuilderProfile:
    if not policies.may_curate(actor):
        raise _forbidden("Only curators verify builders.")
    BuilderProfile.objects.filter(pk=profile.pk).update(verified=verified)
    profile.verified = verified
    return profile


# --- drafts ----------------------------------------------------------------------------


def _clean_starters(starters) -> list[str]:
    if not isinstance(starters, list):
        raise ApplicationError("Conversation starters are a list of texts.", field="starters")
    cleaned = [str(s).strip() for s in starters if str(s).strip()]
    if len(cleaned) > STARTERS_MAX:
        raise ApplicationError(
            f"A GPT has at most {STARTERS_MAX} conversation starters.", field="starters"
        )
    if any(len(s) > STARTER_MAX_CHARS for s in cleaned):
        raise ApplicationError(
            f"A conversation starter is at most {STARTER_MAX_CHARS} characters.", field="starters"
        )
    return cleaned


def _check_base(user, listing) -> None:
    _, version = listing_for_model(model_id=listing.model_id)
    if version is None or token_price_for(listing=listing) is None:
        raise ApplicationError(
            f"{listing.model_id} cannot be a GPT's base model: GPTs run on approved models "
            "sold per token.",
            code="invalid_base_model",
            field="base_listing",
        )


def _clean(user, values: dict) -> dict:
    out = {}
    for name, value in values.items():
        if name not in DRAFT_FIELDS:
            raise ApplicationError(f"A GPT has no field '{name}'.", field=name)
        if name == "name":
            value = str(value).strip()
            if not value:
                raise ApplicationError("Give your GPT a name.", field="name")
            value = value[:80]
        elif name == "description":
            value = str(value).strip()[:300]
        elif name == "instructions":
            value = str(value).strip()
            if len(value) > INSTRUCTIONS_MAX_CHARS:
                raise ApplicationError(
                    f"Instructions are at most {INSTRUCTIONS_MAX_CHARS:,} characters "
                    f"(these are {len(value):,}).",
                    field="instructions",
                )
        elif name == "starters":
            value = _clean_starters(value)
        elif name == "temperature":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
                raise ApplicationError("Temperature is between 0 and 2.", field="temperature")
            value = float(value)
        elif name == "max_tokens":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
                raise ApplicationError("Max tokens is between 1 and 4096.", field="max_tokens")
        elif name == "markup_per_mtok":
            top = settings.GPT_MARKUP_MAX_PER_MTOK
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise ApplicationError(
                    f"Your markup is 0 to {top} cents per 1M tokens.", field="markup_per_mtok"
                )
        elif name == "category":
            if not isinstance(value, GptCategory):
                raise ApplicationError("Choose a category.", field="category")
        elif name == "base_listing":
            _check_base(user, value)
        out[name] = value
    return out


def _slug_for(profile: BuilderProfile, name: str) -> str:
    base = slugify(name)[:50].strip("-") or "gpt"
    slug, n = base, 1
    while Gpt.objects.filter(profile=profile, slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def gpt_create(*, builder, name: str, category: GptCategory, base_listing, **fields) -> Gpt:
    """A new draft GPT (private, unpublished) of ``builder``."""
    if not policies.may_build(builder):
        raise _forbidden("Sign in to build GPTs.")
    values = _clean(
        builder, {"name": name, "category": category, "base_listing": base_listing, **fields}
    )
    profile = builder_profile_for(builder)
    with transaction.atomic():
        gpt = Gpt.objects.create(
            builder=builder, profile=profile, slug=_slug_for(profile, values["name"]), **values
        )
        _audit(gpt, builder, "created", gpt.model_id)
    return gpt


def gpt_update(*, gpt: Gpt, actor, **fields) -> Gpt:
    """Edits the draft; customers see nothing of it until it is published."""
    if not policies.is_builder(actor, gpt):
        raise _forbidden("Only its builder edits a GPT.")
    values = _clean(actor, fields)
    changed = [name for name, value in values.items() if getattr(gpt, name) != value]
    if not changed:
        return gpt
    with transaction.atomic():
        for name in changed:
            setattr(gpt, name, values[name])
        gpt.save()
        _audit(gpt, actor, "edited", ", ".join(changed))
    return gpt


def gpt_avatar_set(*, gpt: Gpt, actor, data: bytes) -> Gpt:
    if not policies.is_builder(actor, gpt):
        raise _forbidden("Only its builder edits a GPT.")
    path = avatar_store(avatar_png(data))
    return gpt_update(gpt=gpt, actor=actor, avatar=path)


# --- knowledge -------------------------------------------------------------------------


def knowledge_file_create(*, builder, name: str, data: bytes) -> KnowledgeFile:
    """Extracts, chunks and indexes an upload of ``builder``'s (in the caller's transaction,
    or its own): a refused upload leaves nothing behind."""
    name = (name or "").rsplit("/", 1)[-1].strip()[:200] or "knowledge.txt"
    knowledge.upload_size_check(name=name, size=len(data))
    kind, text = knowledge.text_of(name=name, data=data)
    pieces = knowledge.chunks_of(text)
    with transaction.atomic():
        item = KnowledgeFile.objects.create(
            builder=builder,
            name=name,
            content_type=kind,
            size=len(data),
            characters=len(text),
            sha256=knowledge.sha256_of(data),
            chunk_count=len(pieces),
        )
        KnowledgeChunk.objects.bulk_create(
            [
                KnowledgeChunk(file=item, position=i, text=piece, search="")
                for i, piece in enumerate(pieces)
            ],
            batch_size=500,
        )
        knowledge.index_file(item)
    return item


def knowledge_add(*, gpt: Gpt, actor, name: str, data: bytes) -> KnowledgeFile:
    """Stores an upload (knowledge_file_create) and attaches it to the draft. Refused
    uploads leave nothing behind (one transaction)."""
    if not policies.is_builder(actor, gpt):
        raise _forbidden("Only its builder edits a GPT.")
    if gpt.knowledge.count() >= settings.GPT_KNOWLEDGE_MAX_FILES:
        raise ApplicationError(
            f"A GPT has at most {settings.GPT_KNOWLEDGE_MAX_FILES} knowledge files.",
            code="too_many_files",
            field="file",
        )
    with transaction.atomic():
        item = knowledge_file_create(builder=actor, name=name, data=data)
        gpt.knowledge.add(item)
        _audit(gpt, actor, "knowledge added", f"{item.name} ({item.chunk_count} chunks)")
    return item


def knowledge_remove(*, gpt: Gpt, actor, file_id: int) -> None:
    """Detaches a file from the draft; published revisions keep answering from it."""
    if not policies.is_builder(actor, gpt):
        raise _forbidden("Only its builder edits a GPT.")
    item = gpt.knowledge.filter(pk=file_id).first()
    if item is None:
        raise ApplicationError("No such knowledge file on this GPT.", code="not_found", status=404)
    with transaction.atomic():
        gpt.knowledge.remove(item)
        _audit(gpt, actor, "knowledge removed", item.name)


# --- publishing and curation -----------------------------------------------------------


def _screen(gpt: Gpt) -> None:
    """The store's safeguards read what a public GPT says and knows."""
    texts = [
        ("instructions", "\n".join([gpt.name, gpt.description, gpt.instructions, *gpt.starters]))
    ]
    for item in gpt.knowledge.all():
        texts.append((item.name, "\n".join(item.chunks.values_list("text", flat=True))))
    for what, text in texts:
        try:
            prompt_screen(texts=[text], field="instructions")
        except ApplicationError as exc:
            raise ApplicationError(
                f"This GPT cannot go to the public store: its {what} break the store's content "
                "policy.",
                code="content_policy_violation",
                field="instructions",
            ) from exc


def _revision_of(gpt: Gpt, actor) -> GptRevision:
    number = (gpt.revisions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    revision = GptRevision.objects.create(
        gpt=gpt,
        number=number,
        created_by=actor,
        **{name: getattr(gpt, name) for name in DRAFT_FIELDS},
    )
    revision.knowledge.set(gpt.knowledge.all())
    return revision


def gpt_publish(*, gpt: Gpt, actor, visibility: str) -> Gpt:
    """Makes the draft a new immutable revision. Only me / anyone with the link: it is what
    they use at once. Public: it goes to the curation queue; customers keep the last
    approved revision until a curator approves this one."""
    if not policies.is_builder(actor, gpt):
        raise _forbidden("Only its builder publishes a GPT.")
    if visibility not in Gpt.Visibility.values:
        raise ApplicationError("Choose who can use it.", field="visibility")
    _check_base(actor, gpt.base_listing)
    public = visibility == Gpt.Visibility.PUBLIC
    if public:
        if not policies.may_publish_publicly(actor):
            raise ApplicationError(
                "Publishing to the public GPT store needs a verified builder profile. Share it "
                "by link meanwhile, or ask for verification on your builder profile.",
                code="builder_not_verified",
                status=403,
                field="visibility",
            )
        _screen(gpt)
    with transaction.atomic():
        gpt = Gpt.objects.select_for_update().get(pk=gpt.pk)
        revision = _revision_of(gpt, actor)
        if public:
            gpt.submitted = revision
            gpt.review = Gpt.Review.PENDING
            if gpt.visibility != Gpt.Visibility.PUBLIC:
                gpt.published = None  # nothing public yet: not usable until approved
        else:
            gpt.published, gpt.submitted, gpt.review = revision, None, Gpt.Review.NONE
        gpt.visibility = visibility
        gpt.save()
        _audit(
            gpt,
            actor,
            "submitted for review" if public else "published",
            f"revision {revision.number}, {gpt.get_visibility_display().lower()}",
        )
    return gpt


def _curated(gpt: Gpt, actor) -> Gpt:
    if not policies.may_curate(actor):
        raise _forbidden("Only curators decide on GPTs.")
    return Gpt.objects.select_for_update().get(pk=gpt.pk)


def gpt_approve(*, gpt: Gpt, actor) -> Gpt:
    with transaction.atomic():
        gpt = _curated(gpt, actor)
        if gpt.submitted_id is None:
            raise ApplicationError(
                "Nothing of this GPT waits for review.", code="not_pending", status=409
            )
        number = gpt.submitted.number
        gpt.published, gpt.submitted = gpt.submitted, None
        gpt.review, gpt.review_note = Gpt.Review.APPROVED, ""
        gpt.save()
        _audit(gpt, actor, "approved", f"revision {number}")
    return gpt


def gpt_reject(*, gpt: Gpt, actor, reason: str) -> Gpt:
    if not reason.strip():
        raise ApplicationError("Say why, for the builder.", field="reason")
    with transaction.atomic():
        gpt = _curated(gpt, actor)
        if gpt.submitted_id is None:
            raise ApplicationError(
                "Nothing of this GPT waits for review.", code="not_pending", status=409
            )
        gpt.submitted = None
        # A GPT approved before stays in the store with its approved revision.
        gpt.review = Gpt.Review.APPROVED if gpt.published_id else Gpt.Review.REJECTED
        gpt.review_note = reason.strip()[:2000]
        gpt.save()
        _audit(gpt, actor, "rejected", reason)
    return gpt


def gpt_delist(*, gpt: Gpt, actor, reason: str) -> Gpt:
    """Out of the store and unusable by customers at once; its builder keeps it."""
    if not reason.strip():
        raise ApplicationError("Say why, for the builder.", field="reason")
    with transaction.atomic():
        gpt = _curated(gpt, actor)
        gpt.review, gpt.review_note, gpt.featured = (
            Gpt.Review.DELISTED,
            reason.strip()[:2000],
            False,
        )
        gpt.visibility = Gpt.Visibility.PRIVATE
        gpt.save()
        _audit(gpt, actor, "delisted", reason)
    return gpt


def gpt_feature(*, gpt: Gpt, actor, featured: bool) -> Gpt:
    with transaction.atomic():
        gpt = _curated(gpt, actor)
        if featured and not policies.is_listed(gpt):
            raise ApplicationError("Only GPTs in the store can be featured.", status=409)
        gpt.featured = featured
        gpt.save(update_fields=["featured", "updated_at"])
        _audit(gpt, actor, "featured" if featured else "unfeatured")
    return gpt


def gpt_report(*, gpt: Gpt, user, reason: str) -> GptReport:
    if not policies.may_use(user, gpt) or not getattr(user, "is_authenticated", False):
        raise ApplicationError("No such GPT.", code="not_found", status=404)
    if not reason.strip():
        raise ApplicationError("Say what is wrong.", field="reason")
    with transaction.atomic():
        report = GptReport.objects.create(gpt=gpt, user=user, reason=reason.strip()[:2000])
        _audit(gpt, user, "reported", reason)
    return report


def gpt_report_close(*, report: GptReport, actor) -> GptReport:
    if not policies.may_curate(actor):
        raise _forbidden("Only curators close reports.")
    with transaction.atomic():
        GptReport.objects.filter(pk=report.pk, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
        _audit(report.gpt, actor, "report closed", f"report {report.pk}")
    return report


def gpt_rate(*, gpt: Gpt, user, stars: int, text: str = "") -> GptRating:
    if not policies.may_rate(user, gpt, has_chatted=has_chatted(user=user, gpt=gpt)):
        raise ApplicationError(
            "Only people who have chatted with a GPT rate it.", code="not_allowed", status=403
        )
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ApplicationError("A rating is 1 to 5 stars.", field="stars")
    rating, _ = GptRating.objects.update_or_create(
        gpt=gpt, user=user, defaults={"stars": stars, "text": text.strip()[:2000]}
    )
    return rating


# --- conversations ---------------------------------------------------------------------


def _owned(conversation: Conversation, user) -> None:
    if conversation.user_id != getattr(user, "pk", None):
        raise ApplicationError("No such conversation.", code="not_found", status=404)


def _storable(text: str) -> str:
    """PostgreSQL's text holds no NUL character; a model may write one (it is shown as �)."""
    return text.replace("\x00", "\ufffd")


def conversation_start(*, gpt: Gpt, user, first_message: str) -> Conversation:
    if not policies.may_use(user, gpt):
        raise ApplicationError("No such GPT.", code="not_found", status=404)
    title = " ".join(_storable(first_message).split())[:80] or gpt.published.name
    return Conversation.objects.create(gpt=gpt, user=user, title=title)


def conversation_rename(*, conversation: Conversation, user, title: str) -> Conversation:
    _owned(conversation, user)
    title = " ".join(_storable(title).split())[:120]
    if not title:
        raise ApplicationError("A title cannot be empty.", field="title")
    conversation.title = title
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation, user) -> None:
    """Gone for the customer; what it cost stays in their usage (usage records keep the
    GPT, not the text)."""
    _owned(conversation, user)
    conversation.delete()


def chat_turn_start(*, conversation: Conversation, user, text: str):
    """Records the user's message and admits the GPT's answer to the conversation so far
    (the newest HISTORY_MESSAGES messages). Returns the StartedCompletion; a refusal
    (no credit, content policy) removes the message again and raises."""
    _owned(conversation, user)
    gpt = conversation.gpt
    text = _storable(text).strip()
    if not text:
        raise ApplicationError("Write a message first.", field="content")
    message = ChatMessage.objects.create(
        conversation=conversation, role=ChatMessage.Role.USER, content=text[:20000]
    )
    history = list(conversation.messages.order_by("-created_at", "-id")[:HISTORY_MESSAGES])[::-1]
    params = CompletionParams(
        model=gpt.model_id,
        kind="chat",
        messages=[{"role": m.role, "content": m.content} for m in history],
        stream=True,
        include_usage=True,
    )
    try:
        return completion_start(
            user=user, api_key=None, params=params, source=UsageRecord.Source.GPT_CHAT
        )
    except Exception:
        message.delete()
        raise


def chat_answer_record(
    *, conversation: Conversation, started, text: str, finish_reason: str
) -> ChatMessage:
    """The GPT's answer as the customer saw it, with the knowledge files it drew on."""
    gpt = gpt_named(started.model_id)
    message = ChatMessage.objects.create(
        conversation=conversation,
        role=ChatMessage.Role.ASSISTANT,
        content=_storable(text),
        sources=list(started.sources),
        request_id=started.request_id,
        revision_id=gpt.published_id if gpt else None,
        finish_reason=finish_reason[:16],
    )
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return message
