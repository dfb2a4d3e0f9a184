import csv
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render

from billing import selectors
from billing.money import exact_major_units, major_units


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
    per_listing = selectors.earnings_per_listing(publisher=publisher)
    downloads = selectors.downloads_per_listing(publisher=publisher)
    for row in per_listing:
        row["downloads"] = downloads.get(row["listing_id"], 0)
    return render(
        request,
        "billing/earnings.html",
        {
            "publisher": publisher,
            "totals": selectors.earnings_totals(publisher=publisher),
            "usage_totals": selectors.usage_earnings_totals(publisher=publisher),
            "per_listing": per_listing,
            "chart": selectors.earnings_per_day(publisher=publisher, days=30),
            "entries": selectors.earnings_for(publisher=publisher)[:50],
            "fee_percent": settings.PLATFORM_FEE_PERCENT,
            "currency": settings.STORE_CURRENCY,
        },
    )


@login_required
def payout_csv(request):
    """Every earnings row in the range (?start=YYYY-MM-DD&end=YYYY-MM-DD), then the total."""
    publisher = _publisher(request)
    start, end = _date(request.GET.get("start")), _date(request.GET.get("end"))
    response = HttpResponse(content_type="text/csv")
    name = f"payout-{publisher.slug}-{start or 'all'}-{end or 'now'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        ["date", "order", "model", "kind", "gross", "fee", "net", "currency", "fee_percent"]
    )
    totals: dict[str, int] = {}
    for entry in selectors.payout_rows(publisher=publisher, start=start, end=end):
        writer.writerow(
            [
                entry.created_at.date().isoformat(),
                entry.order.short_number,
                entry.listing.model_id,
                entry.kind,
                major_units(entry.gross, entry.currency),
                major_units(entry.fee, entry.currency),
                major_units(entry.net, entry.currency),
                entry.currency.upper(),
                entry.fee_percent,
            ]
        )
        totals[entry.currency] = totals.get(entry.currency, 0) + entry.net
    for currency, net in sorted(totals.items()):
        writer.writerow(
            ["total", "", "", "", "", "", major_units(net, currency), currency.upper(), ""]
        )
    # Per-token revenue, counted from settled requests: exact amounts (fractions of a cent).
    usage_net = 0
    for entry in selectors.usage_earnings_rows(publisher=publisher, start=start, end=end):
        writer.writerow(
            [
                entry.created_at.date().isoformat(),
                f"{entry.requests} requests",
                entry.listing.model_id,
                "usage",
                exact_major_units(entry.gross),
                exact_major_units(entry.fee),
                exact_major_units(entry.net),
                settings.STORE_CURRENCY.upper(),
                entry.fee_percent,
            ]
        )
        usage_net += entry.net
    if usage_net:
        writer.writerow(
            [
                "usage total", "", "", "", "", "", exact_major_units(usage_net),
                settings.STORE_CURRENCY.upper(), "",
            ]
        )  # fmt: skip
    return response
