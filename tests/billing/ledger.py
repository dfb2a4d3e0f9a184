"""Assertion helper: a pack's running totals must equal the sums of its ledger rows."""

import threading

from django.db import connection
from django.db.models import Sum

from billing.models import QuotaLedgerEntry, QuotaPack
from config.api_errors import ApplicationError


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


def outcomes_at_once(count: int, action) -> list[str]:
    """Runs ``action(n)`` for n in range(count), all threads released together; each outcome
    is "ok" or the ApplicationError's code. Each thread closes its database connection."""
    start = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            start.wait()
            action(n)
            result = "ok"
        except ApplicationError as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
