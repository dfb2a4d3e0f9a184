"""Browser pages of inference: the playground and the usage dashboards."""

import csv

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from billing.money import exact_major_units
from inference.api.errors import OpenAIError
from inference.api.views import completion_response
from inference.models import UsageRecord
from inference.selectors import (
    key_budgets,
    playground_models,
    quota_remaining,
    usage_export_rows,
    usage_for_publisher,
    usage_for_user,
)

USAGE_DAYS = 30


@login_required
def playground(request):
    models = playground_models(user=request.user)
    chosen = request.GET.get("model", "")
    if chosen not in {model["id"] for model in models}:
        chosen = models[0]["id"] if models else ""
    return render(request, "inference/playground.html", {"models": models, "chosen": chosen})


@require_POST
async def playground_chat(request):
    """The playground's SSE endpoint: the session authenticates (CSRF checked by the
    middleware), the answer streams in OpenAI's chunk format with a usage chunk carrying
    the tokens charged."""
    user = await request.auser()
    if not user.is_authenticated:
        return OpenAIError(
            "Log in to use the playground.", status=401, code="login_required"
        ).response()
    return await completion_response(
        request,
        kind="chat",
        user=user,
        api_key=None,
        source=UsageRecord.Source.PLAYGROUND,
        show_charged=True,
        overrides={"stream": True, "stream_options": {"include_usage": True}, "n": 1},
    )


@login_required
def usage(request):
    data = usage_for_user(user=request.user, days=USAGE_DAYS)
    return render(
        request,
        "inference/usage.html",
        {
            "usage": data,
            "quota": quota_remaining(user=request.user),
            "key_budgets": key_budgets(user=request.user),
            "publisher_view": False,
        },
    )


@login_required
def publisher_usage(request):
    publisher = request.user.publisher
    if publisher is None:
        return render(request, "inference/not_publisher.html", status=403)
    data = usage_for_publisher(publisher=publisher, days=USAGE_DAYS)
    return render(
        request,
        "inference/usage.html",
        {"usage": data, "publisher_view": True, "publisher": publisher},
    )


@login_required
def usage_csv(request):
    """Spend and tokens per day, model, key and way of paying, for accounting."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="usage.csv"'
    writer = csv.writer(response)
    currency = settings.STORE_CURRENCY.upper()
    writer.writerow(
        [
            "day", "model", "key", "paid_with", "requests", "prompt_tokens",
            "completion_tokens", "pack_tokens_charged", f"cost_{currency}",
        ]
    )  # fmt: skip
    for row in usage_export_rows(user=request.user, days=USAGE_DAYS):
        writer.writerow(
            [
                row["day"].isoformat(), row["model"], row["api_key__name"] or "(playground)",
                row["access"], row["requests"], row["prompt_tokens"] or 0,
                row["completion_tokens"] or 0, row["charged_tokens"] or 0,
                exact_major_units(row["cost"] or 0),
            ]
        )  # fmt: skip
    return response


async def usage_json(request):
    """The dashboard's numbers as JSON (for scripts); same data as the page."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse(
            {"error": {"message": "Log in first.", "code": "login_required"}}, status=401
        )
    return JsonResponse(await sync_to_async(usage_for_user)(user=user, days=USAGE_DAYS))
