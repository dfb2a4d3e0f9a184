"""/v1 views: thin wrappers that authenticate, validate, call a selector or service, and shape JSON.

The completion views are async: waiting for or streaming an answer awaits Redis, so an
open request pins no thread under the ASGI server. Database work goes through
config.db.sync_to_async_released, so a streaming answer holds no database connection either.
"""

import asyncio
import logging
from functools import wraps

from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from config.api_errors import ApplicationError
from config.db import sync_to_async_released
from inference.api.auth import authenticate
from inference.api.errors import (
    SERVICE_DOWN,
    OpenAIError,
    from_application_error,
    method_not_allowed,
    store_unavailable,
)
from inference.api.responses import completion_body, completion_events
from inference.api.validation import completion_params, parse_json
from inference.models import UsageRecord
from inference.selectors import model_card_for_key, models_for_key
from inference.services import (
    StartedCompletion,
    completion_abandon_in_background,
    completion_start,
)

logger = logging.getLogger(__name__)


def openai_endpoint(view):
    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            request.api_key = authenticate(request)
            return view(request, *args, **kwargs)
        except OpenAIError as exc:
            return exc.response()
        except SERVICE_DOWN:
            logger.exception("A part of the store is down; answering 503")
            return store_unavailable().response()

    return wrapper


@openai_endpoint
def models_list(request):
    if request.method != "GET":
        raise method_not_allowed("GET")
    return JsonResponse({"object": "list", "data": models_for_key(api_key=request.api_key)})


@openai_endpoint
def model_detail(request, model_id: str):
    # OpenAI's DELETE here deletes a fine-tuned model: answering it with the card would
    # tell a client the model is gone when nothing was done.
    if request.method != "GET":
        raise method_not_allowed("GET")
    card = model_card_for_key(api_key=request.api_key, model_id=model_id)
    if card is None:
        raise OpenAIError(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            status=404,
            param="model",
            code="model_not_found",
        )
    return JsonResponse(card)


@csrf_exempt
def unknown_url(request):
    return OpenAIError(
        f"Invalid URL ({request.method} {request.path}).", status=404, code="unknown_url"
    ).response()


def sse_response(events) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    # Proxies must pass each event on at once instead of buffering the answer.
    response["X-Accel-Buffering"] = "no"
    return response


async def _admit(**admission) -> StartedCompletion:
    """completion_start in a thread, surviving the client leaving meanwhile: the ASGI server
    cancels the view when its client disconnects, but the admission thread runs on and would
    leave a hold and a generation nobody follows. Then the admitted request is given up (its
    generation stopped, what it produced settled) as soon as admission ends."""
    admitting = asyncio.ensure_future(sync_to_async_released(completion_start)(**admission))
    try:
        return await asyncio.shield(admitting)
    except asyncio.CancelledError:
        admitting.add_done_callback(_abandon_admitted)
        raise


def _abandon_admitted(admitting: asyncio.Future) -> None:
    if admitting.cancelled() or admitting.exception() is not None:
        return  # refused or failed: admission undid what it had done
    started = admitting.result()
    completion_abandon_in_background(request_id=started.request_id, queue=started.queue)


async def completion_response(
    request,
    *,
    kind: str,
    user,
    api_key,
    source: str,
    show_charged: bool = False,
    overrides: dict | None = None,
):
    """Validates, admits and answers one completion request (JSON or SSE).

    ``overrides`` replaces fields of the body (the playground always streams with usage).
    """
    try:
        params = completion_params({**parse_json(request.body), **(overrides or {})}, kind=kind)
        started = await _admit(user=user, api_key=api_key, params=params, source=source)
        if params.stream:
            return sse_response(
                completion_events(
                    started,
                    kind=kind,
                    include_usage=params.include_usage,
                    show_charged=show_charged,
                )
            )
        return JsonResponse(await completion_body(started, kind=kind))
    except OpenAIError as exc:
        return exc.response()
    except ApplicationError as exc:
        return from_application_error(exc).response()
    except SERVICE_DOWN:
        # Admission undid what it had done (hold, limit counts) before this reached here,
        # or had not written anything yet (the database refused the hold).
        logger.exception("A part of the store is down; answering 503")
        return store_unavailable().response()


async def _completion_view(request, *, kind: str):
    if request.method != "POST":
        return method_not_allowed("POST").response()
    try:
        api_key = await sync_to_async_released(authenticate)(request)
    except OpenAIError as exc:
        return exc.response()
    except SERVICE_DOWN:
        logger.exception("A part of the store is down; answering 503")
        return store_unavailable().response()
    return await completion_response(
        request, kind=kind, user=api_key.user, api_key=api_key, source=UsageRecord.Source.API
    )


@csrf_exempt
async def chat_completions(request):
    return await _completion_view(request, kind="chat")


@csrf_exempt
async def completions(request):
    return await _completion_view(request, kind="text")
