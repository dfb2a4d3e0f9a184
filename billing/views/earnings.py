import csv
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render

from billing import selectors


def _publisher(request):
    publisher = request.user.publisher
    if publisher is None:
        raise PermissionDenied("Earnings are for publishers.")
    return publisher


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
def earnings(request):
    """The publisher's dashboard: totals, net per day and per model, recent ledger rows."""
    publisher = _publisher(request)
    return render(
        request,
        "billing/earnings.html",
        {
            "publisher": publisher,
            "totals": selectors.earnings_totals(publisher=publisher),
            "usage_totals": selectors.usage_earnings_totals(publisher=publisher),
            "per_listing": selectors.earnings_per_listing(publisher=publisher),
            "chart": selectors.earnings_per_day(publisher=publisher, days=30),
            "entries": selectors.earnings_for(publisher=publisher)[:50],
            "fee_percent": settings.PLATFORM_FEE_PERCENT,
            "currency": settings.STORE_CURRENCY,
        },
    )


@login_required
def payout_csv(request):
    """Every earnings row in the range (?start=YYYY-MM-DD&end=YYYY-MM-DD), then the totals."""
    publisher = _publisher(request)
    start, end = _date(request.GET.get("start")), _date(request.GET.get("end"))
    response = HttpResponse(content_type="text/csv")
    name = f"payout-{publisher.slug}-{start or 'all'}-{end or 'now'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    csv.writer(response).writerows(
        selectors.payout_report(publisher=publisher, start=start, end=end)
    )
    return response
