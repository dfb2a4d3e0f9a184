"""The publisher's monitoring of one model: requests, errors, time to first token (p50/p95)
and tokens per second over time, from GenerationTiming rows, and who serves it now."""

from datetime import timedelta

from django.db.models import Aggregate, Count, FloatField, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from inference.monitoring.models import GenerationTiming
from inference.pools.models import WorkerPool
from inference.pools.placement import listing_is_served, pool_workers

# The periods the page offers: hours covered -> bucket.
PERIODS = {24: "hour", 24 * 7: "day", 24 * 30: "day"}
ERROR_OUTCOMES = [
    GenerationTiming.Outcome.ERROR,
    GenerationTiming.Outcome.LOST,
    GenerationTiming.Outcome.TIMEOUT,
]


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _rate(tokens, generating_ms) -> float | None:
    return round(tokens * 1000 / generating_ms, 1) if tokens and generating_ms else None


def model_monitoring(*, listing, hours: int = 24) -> dict:
    """Buckets (hour or day) of the last ``hours``, oldest first, and the totals of the period."""
    bucket = PERIODS.get(hours, "hour")
    trunc = TruncHour if bucket == "hour" else TruncDay
    since = timezone.now() - timedelta(hours=hours)
    rows = GenerationTiming.objects.filter(listing=listing, created_at__gte=since)
    measures = {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(outcome__in=ERROR_OUTCOMES)),
        "ttft_p50": PercentileCont("first_token_ms", fraction=0.5),
        "ttft_p95": PercentileCont("first_token_ms", fraction=0.95),
        "tokens": Sum("completion_tokens"),
    }
    # Tokens per second while generating: from each answer's first token to its end.
    generating = Sum("duration_ms", filter=Q(first_token_ms__isnull=False)) - Sum("first_token_ms")
    buckets = [
        {
            "at": row["at"].isoformat(),
            "requests": row["requests"],
            "errors": row["errors"],
            "ttft_p50": row["ttft_p50"],
            "ttft_p95": row["ttft_p95"],
            "tokens_per_second": _rate(row["tokens"], row["generating"]),
        }
        for row in rows.annotate(at=trunc("created_at"))
        .values("at")
        .annotate(**measures, generating=generating)
        .order_by("at")
    ]
    total = rows.aggregate(**measures, generating=generating)
    errors_by_code = list(
        rows.filter(outcome__in=ERROR_OUTCOMES)
        .values("error_code")
        .annotate(count=Count("id"))
        .order_by("-count")
    )
    return {
        "hours": hours,
        "bucket": bucket,
        "buckets": buckets,
        "requests": total["requests"],
        "errors": total["errors"],
        "ttft_p50": total["ttft_p50"],
        "ttft_p95": total["ttft_p95"],
        "tokens_per_second": _rate(total["tokens"], total["generating"]),
        "errors_by_code": errors_by_code,
    }


def model_serving(*, listing) -> dict:
    """Whether a request would find a live worker now, and the pools placing the model."""
    pools = [
        {
            "name": pool.name,
            "device": pool.get_device_kind_display(),
            "live_workers": pool_workers(queue=pool.queue),
        }
        for pool in WorkerPool.objects.filter(enabled=True, listings=listing).order_by("name")
    ]
    return {"served": listing_is_served(listing=listing), "pools": pools}
