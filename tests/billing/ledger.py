"""Assertion helper: a pack's running totals must equal the sums of its ledger rows."""

from django.db.models import Sum

from billing.models import QuotaLedgerEntry, QuotaPack


def assert_ledger_matches(pack: QuotaPack) -> None:
    pack.refresh_from_db()
    sums = QuotaLedgerEntry.objects.filter(pack=pack).aggregate(
        a=Sum("available_delta"), h=Sum("held_delta")
    )
    assert (pack.available, pack.held) == (sums["a"] or 0, sums["h"] or 0)
    assert pack.available >= 0 and pack.held >= 0


def kinds(pack: QuotaPack) -> list[tuple[str, int, int]]:
    return list(
        QuotaLedgerEntry.objects.filter(pack=pack)
        .order_by("id")
        .values_list("kind", "available_delta", "held_delta")
    )
