"""GPT pages: the GPT store, a GPT's page and chat, the builder, curation. Thin: each view
reads a selector or calls a service; an ApplicationError becomes a message on the page it
came from (``_acting``), or an error event in a chat stream (``_stream_error``)."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.money import format_microcents
from billing.selectors import credit_balance
from config.api_errors import ApplicationError
from config.db import sync_to_async_released
from config.html_refusals import REFUSED, act_on_form, refusals_shown_back
from inference.api.views import sse_response
from inference.completions import ChoiceFinished, Done, Failed, Text, follow
from inference.models import UsageRecord
from inference.services import CompletionParams, completion_start, completion_stop
from store.gpts import knowledge, policies, selectors, services
from store.gpts.avatars import avatar_size_check
from store.gpts.forms import BuilderProfileForm, GptForm, PublishForm
from store.gpts.models import Gpt, GptReport

_acting = refusals_shown_back("gpts:store")


def _usable(request, handle: str, slug: str) -> Gpt:
    gpt = selectors.gpt_at(handle=handle, slug=slug)
    if gpt is None or not policies.may_use(request.user, gpt):
        raise Http404("No such GPT.")
    return gpt


def _own(request, gpt_id: int) -> Gpt:
    gpt = Gpt.objects.select_related("profile", "published", "submitted").filter(pk=gpt_id).first()
    if gpt is None or not policies.is_builder(request.user, gpt):
        raise Http404("No such GPT of yours.")
    return gpt


def _upload(request, field: str, *, missing: str):
    """The file posted as ``field`` (not read yet), or a refusal saying ``missing``."""
    upload = request.FILES.get(field)
    if upload is None:
        raise ApplicationError(missing, field=field)
    return upload


# --- the GPT store ---------------------------------------------------------------------


def gpt_store(request):
    query, category = request.GET.get("q", "").strip(), request.GET.get("category", "")
    context = {"query": query, "category": category}
    if query or category:
        context["results"] = selectors.gpt_search(query=query, category=category)
    context.update(selectors.gpt_store_front())
    return render(request, "store/gpts/store.html", context)


def gpt_detail(request, handle: str, slug: str):
    gpt = _usable(request, handle, slug)
    return render(request, "store/gpts/detail.html", selectors.gpt_page(gpt=gpt, user=request.user))


def gpt_avatar(request, handle: str, slug: str):
    gpt = selectors.gpt_at(handle=handle, slug=slug)
    if gpt is None or not (
        policies.may_use(request.user, gpt) or policies.is_builder(request.user, gpt)
    ):
        raise Http404("No such GPT.")
    avatar = gpt.avatar if policies.is_builder(request.user, gpt) else gpt.published.avatar
    if not avatar:
        raise Http404("No avatar.")
    path = Path(settings.MEDIA_ROOT) / avatar
    if not path.is_file():
        raise Http404("No avatar.")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
@require_POST
@_acting
def gpt_rate(request, handle: str, slug: str):
    gpt = _usable(request, handle, slug)
    try:
        stars = int(request.POST.get("stars", ""))
    except ValueError:
        stars = 0
    services.gpt_rate(gpt=gpt, user=request.user, stars=stars, text=request.POST.get("text", ""))
    messages.success(request, "Thank you for rating it.")
    return redirect("gpts:detail", handle=handle, slug=slug)


@login_required
@require_POST
@_acting
def gpt_report(request, handle: str, slug: str):
    gpt = _usable(request, handle, slug)
    services.gpt_report(gpt=gpt, user=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, "Thank you: curators will look at it.")
    return redirect("gpts:detail", handle=handle, slug=slug)


# --- chat ------------------------------------------------------------------------------


@login_required
def chat_page(request, handle: str, slug: str, conversation_id: int | None = None):
    gpt = _usable(request, handle, slug)
    conversation = None
    if conversation_id is not None:
        conversation = selectors.conversation_of(user=request.user, conversation_id=conversation_id)
        if conversation is None or conversation.gpt_id != gpt.pk:
            raise Http404("No such conversation.")
    return render(
        request,
        "store/gpts/chat.html",
        {
            "gpt": gpt,
            "revision": gpt.published,
            "conversation": conversation,
            "chat_messages": list(conversation.messages.all()) if conversation else [],
            "conversations": selectors.conversations_for(user=request.user, gpt=gpt),
            "balance": credit_balance(user=request.user),
        },
    )


def _stream_error(exc: ApplicationError) -> dict:
    return {"error": {"message": exc.message, "code": exc.code, "status": exc.status}}


def _sse(events):
    async def lines():
        async for event in events:
            yield f"data: {json.dumps(event)}\n\n"

    return sse_response(lines())


def _body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApplicationError("Send a JSON object.", code="invalid_json")
    return body


def _start_turn(user, handle: str, slug: str, body: dict):
    gpt = selectors.gpt_at(handle=handle, slug=slug)
    if gpt is None or not policies.may_use(user, gpt):
        raise ApplicationError("No such GPT.", code="not_found", status=404)
    text = str(body.get("content", ""))
    conversation = None
    if body.get("conversation"):
        conversation = selectors.conversation_of(
            user=user, conversation_id=int(body["conversation"])
        )
        if conversation is None or conversation.gpt_id != gpt.pk:
            raise ApplicationError("No such conversation.", code="not_found", status=404)
    if not text.strip():
        raise ApplicationError("Write a message first.", field="content")
    created = conversation is None
    if created:
        conversation = services.conversation_start(gpt=gpt, user=user, first_message=text)
    try:
        started = services.chat_turn_start(conversation=conversation, user=user, text=text)
    except Exception:
        if created:
            conversation.delete()
        raise
    return conversation, started


async def _answer_events(started, *, on_end):
    """The follower's events as the chat page's: text, then done (or error)."""
    parts: list[str] = []
    reason = ""
    async for event in follow(started):
        if isinstance(event, Text):
            parts.append(event.text)
            yield {"text": event.text}
        elif isinstance(event, ChoiceFinished):
            reason = event.reason
        elif isinstance(event, Done):
            extra = await on_end("".join(parts), reason)
            cost = event.record.cost if event.record else 0
            yield {
                "done": True,
                "finish_reason": reason,
                "sources": list(started.sources),
                "usage": {
                    "prompt_tokens": event.prompt_tokens,
                    "completion_tokens": event.completion_tokens,
                },
                "cost": _money(cost),
                **extra,
            }
        elif isinstance(event, Failed):
            if parts:
                await on_end("".join(parts), "error")
            message = event.event.get("message") or "The answer failed; nothing was charged for it."
            yield {"error": {"message": message, "code": event.event.get("code") or event.cause}}


def _money(microcents: int) -> str:
    return format_microcents(microcents)


@require_POST
async def chat_send(request, handle: str, slug: str):
    """One user turn: records the message, streams the answer (SSE), records the answer."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse(
            {"error": {"message": "Log in to chat.", "code": "login_required"}}, status=401
        )
    try:
        conversation, started = await sync_to_async_released(_start_turn)(
            user, handle, slug, _body(request)
        )
    except ApplicationError as exc:
        return JsonResponse(_stream_error(exc), status=exc.status)

    async def on_end(text: str, reason: str) -> dict:
        message = await sync_to_async_released(services.chat_answer_record)(
            conversation=conversation, started=started, text=text, finish_reason=reason
        )
        return {"message_id": message.pk}

    async def events():
        yield {
            "conversation": conversation.pk,
            "title": conversation.title,
            "request_id": started.request_id,
        }
        async for event in _answer_events(started, on_end=on_end):
            yield event

    return _sse(events())


@login_required
@require_POST
def chat_stop(request):
    """The stop button: the generation stops; what was written is kept and charged."""
    if not completion_stop(request_id=request.POST.get("request_id", ""), user=request.user):
        return JsonResponse(
            {"error": {"message": "No such answer in progress.", "code": "not_found"}}, status=404
        )
    return JsonResponse({"stopped": True})


@login_required
@require_POST
@_acting
def conversation_rename(request, conversation_id: int):
    conversation = selectors.conversation_of(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    services.conversation_rename(
        conversation=conversation, user=request.user, title=request.POST.get("title", "")
    )
    gpt = conversation.gpt
    return redirect(
        "gpts:conversation",
        handle=gpt.profile.handle,
        slug=gpt.slug,
        conversation_id=conversation.pk,
    )


@login_required
@require_POST
@_acting
def conversation_delete(request, conversation_id: int):
    conversation = selectors.conversation_of(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    gpt = conversation.gpt
    services.conversation_delete(conversation=conversation, user=request.user)
    messages.success(request, "Conversation deleted.")
    return redirect("gpts:chat", handle=gpt.profile.handle, slug=gpt.slug)


# --- the builder -----------------------------------------------------------------------


def _base_choices():
    return [
        (listing.pk, f"{listing.name} ({listing.model_id})") for listing in selectors.base_models()
    ]


@login_required
def builder_home(request):
    profile = services.builder_profile_for(request.user)
    stats = selectors.builder_stats(user=request.user)
    return render(
        request,
        "store/gpts/builder_home.html",
        {
            "profile": profile,
            "profile_form": BuilderProfileForm(
                initial={
                    "display_name": profile.display_name,
                    "handle": profile.handle,
                    "website": profile.website,
                }
            ),
            "stats": stats,
        },
    )


@login_required
@require_POST
@_acting
def builder_profile(request):
    form = BuilderProfileForm(request.POST)
    if not form.is_valid():
        raise ApplicationError("Check your builder name, handle and website.")
    services.builder_profile_update(user=request.user, **form.cleaned_data)
    messages.success(request, "Builder profile saved.")
    return redirect("gpts:builder")


@login_required
def builder_new(request):
    form = GptForm(request.POST or None, base_choices=_base_choices())
    if request.method == "POST" and form.is_valid():
        values = form.values()
        values["base_listing"] = selectors.base_model(values["base_listing"])
        gpt = act_on_form(form, lambda: services.gpt_create(builder=request.user, **values))
        if gpt is not REFUSED:
            messages.success(request, "GPT created. Try it in the preview, then publish it.")
            return redirect("gpts:edit", gpt_id=gpt.pk)
    return render(request, "store/gpts/builder_edit.html", {"form": form, "gpt": None})


@login_required
def builder_edit(request, gpt_id: int):
    gpt = _own(request, gpt_id)
    initial = {
        "name": gpt.name, "description": gpt.description, "category": gpt.category_id,
        "base_listing": gpt.base_listing_id, "instructions": gpt.instructions,
        "starters": "\n".join(gpt.starters), "temperature": gpt.temperature,
        "max_tokens": gpt.max_tokens, "markup_per_mtok": gpt.markup_per_mtok,
    }  # fmt: skip
    form = GptForm(request.POST or None, initial=initial, base_choices=_base_choices())
    if request.method == "POST" and form.is_valid():
        values = form.values()
        values["base_listing"] = selectors.base_model(values["base_listing"])
        saved = act_on_form(
            form, lambda: services.gpt_update(gpt=gpt, actor=request.user, **values)
        )
        if saved is not REFUSED:
            messages.success(
                request, "Draft saved. The preview runs it now; publish to let others use it."
            )
            return redirect("gpts:edit", gpt_id=gpt.pk)
    return render(
        request,
        "store/gpts/builder_edit.html",
        {
            "form": form,
            "gpt": gpt,
            "knowledge": list(gpt.knowledge.order_by("created_at")),
            "publish_form": PublishForm(initial={"visibility": gpt.visibility}),
            "may_publish_publicly": policies.may_publish_publicly(request.user),
            "conversations": selectors.builder_conversations(gpt=gpt),
            "max_files": settings.GPT_KNOWLEDGE_MAX_FILES,
        },
    )


@login_required
@require_POST
@_acting
def builder_knowledge_add(request, gpt_id: int):
    gpt = _own(request, gpt_id)
    upload = _upload(request, "file", missing="Choose a file to upload.")
    knowledge.upload_size_check(name=upload.name, size=upload.size)
    item = services.knowledge_add(gpt=gpt, actor=request.user, name=upload.name, data=upload.read())
    messages.success(request, f"{item.name} added: {item.chunks.count()} passages indexed.")
    return redirect("gpts:edit", gpt_id=gpt.pk)


@login_required
@require_POST
@_acting
def builder_knowledge_remove(request, gpt_id: int, file_id: int):
    gpt = _own(request, gpt_id)
    services.knowledge_remove(gpt=gpt, actor=request.user, file_id=file_id)
    messages.success(request, "Knowledge file removed from the draft.")
    return redirect("gpts:edit", gpt_id=gpt.pk)


@login_required
@require_POST
@_acting
def builder_avatar(request, gpt_id: int):
    gpt = _own(request, gpt_id)
    upload = _upload(request, "avatar", missing="Choose an image.")
    avatar_size_check(size=upload.size)
    services.gpt_avatar_set(gpt=gpt, actor=request.user, data=upload.read())
    messages.success(request, "Avatar saved.")
    return redirect("gpts:edit", gpt_id=gpt.pk)


@login_required
@require_POST
@_acting
def builder_publish(request, gpt_id: int):
    gpt = _own(request, gpt_id)
    gpt = services.gpt_publish(
        gpt=gpt, actor=request.user, visibility=request.POST.get("visibility", "")
    )
    if gpt.review == Gpt.Review.PENDING:
        messages.success(
            request, "Sent to review: it appears in the GPT store once a curator approves it."
        )
    else:
        messages.success(request, f"Published ({gpt.get_visibility_display().lower()}).")
    return redirect("gpts:edit", gpt_id=gpt.pk)


@require_POST
async def builder_preview(request, gpt_id: int):
    """The preview chat beside the form: the draft answers (nothing is saved but usage)."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse(
            {"error": {"message": "Log in first.", "code": "login_required"}}, status=401
        )

    def start(body):
        gpt = Gpt.objects.select_related("profile").filter(pk=gpt_id).first()
        if gpt is None or not policies.is_builder(user, gpt):
            raise ApplicationError("No such GPT of yours.", code="not_found", status=404)
        history = body.get("messages")
        if not isinstance(history, list) or not history:
            raise ApplicationError("Send the conversation as a list of messages.", field="messages")
        clean = [
            {"role": m.get("role"), "content": str(m.get("content", ""))}
            for m in history[-services.HISTORY_MESSAGES :]
            if isinstance(m, dict) and m.get("role") in ("user", "assistant")
        ]
        params = CompletionParams(
            model=gpt.model_id, kind="chat", messages=clean, stream=True, include_usage=True
        )
        return completion_start(
            user=user,
            api_key=None,
            params=params,
            source=UsageRecord.Source.GPT_CHAT,
            gpt_draft=True,
        )

    try:
        started = await sync_to_async_released(start)(_body(request))
    except ApplicationError as exc:
        return JsonResponse(_stream_error(exc), status=exc.status)

    async def on_end(text, reason):
        return {}

    async def events():
        yield {"request_id": started.request_id}
        async for event in _answer_events(started, on_end=on_end):
            yield event

    return _sse(events())


# --- curation --------------------------------------------------------------------------


def _curator(request):
    if not policies.may_curate(request.user):
        raise Http404("Not a curator page for you.")


@login_required
def curate(request):
    _curator(request)
    return render(request, "store/gpts/curate.html", selectors.curation_queue())


@login_required
@require_POST
@_acting
def curate_action(request, gpt_id: int, action: str):
    _curator(request)
    gpt = Gpt.objects.filter(pk=gpt_id).first()
    if gpt is None:
        raise Http404("No such GPT.")
    reason = request.POST.get("reason", "")
    if action == "approve":
        services.gpt_approve(gpt=gpt, actor=request.user)
    elif action == "reject":
        services.gpt_reject(gpt=gpt, actor=request.user, reason=reason)
    elif action == "delist":
        services.gpt_delist(gpt=gpt, actor=request.user, reason=reason)
    elif action in ("feature", "unfeature"):
        services.gpt_feature(gpt=gpt, actor=request.user, featured=action == "feature")
    elif action == "verify-builder":
        services.builder_verify(actor=request.user, profile=gpt.profile)
    else:
        raise Http404("No such action.")
    messages.success(request, f"{gpt.name}: {action.replace('-', ' ')} done.")
    return redirect("gpts:curate")


@login_required
@require_POST
@_acting
def curate_report_close(request, report_id: int):
    _curator(request)
    report = GptReport.objects.select_related("gpt").filter(pk=report_id).first()
    if report is None:
        raise Http404("No such report.")
    services.gpt_report_close(report=report, actor=request.user)
    messages.success(request, "Report closed.")
    return redirect("gpts:curate")
