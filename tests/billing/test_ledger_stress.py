"""Proof under stress: many threads run a random mix of holds, settlements, releases, pack
expiries, refunds and the stale-hold sweep on shared accounts. Whatever the interleaving,
afterwards every balance equals the sum of its ledger rows, none is negative, every hold
ended exactly once, and no pack paid out more tokens than it held."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing.models import QuotaHold, QuotaLedgerEntry, QuotaPack
from billing.selectors import quota_ledger_mismatches
from billing.services import (
    holds_release_stale,
    quota_hold,
    quota_pack_revoke,
    quota_packs_expire,
    quota_release,
    quota_settle,
)
from config.api_errors import ApplicationError
from tests.support.factories import UserFactory

THREADS = 12
OPERATIONS = 50
EXPECTED_CODES = {"insufficient_quota", "hold_not_found", "duplicate_request"}


@pytest.mark.django_db(transaction=True)
def test_a_random_mix_of_ledger_operations_on_shared_accounts_keeps_every_invariant(listing, rent):
    customers = [UserFactory() for _ in range(3)]
    packs = [rent(user, listing, tokens=3_000) for user in customers for _ in range(2)]
    refundable = [pack.order for pack in packs[1::2]]
    expiring = [pack.pk for pack in packs[::3]]
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        try:
            start.wait()
            for step in range(OPERATIONS):
                roll = rng.random()
                try:
                    if roll < 0.45 or not mine:
                        request_id = f"t{n}-{step}"
                        user = rng.choice(customers)
                        quota_hold(
                            user=user, listing=listing, tokens=rng.randint(1, 400),
                            request_id=request_id,
                        )  # fmt: skip
                        mine.append(request_id)
                    elif roll < 0.75:
                        # Used may exceed what was held: only the held part is debited.
                        quota_settle(request_id=mine.pop(0), used_tokens=rng.randint(0, 500))
                    elif roll < 0.88:
                        quota_release(request_id=mine.pop(rng.randrange(len(mine))))
                    elif roll < 0.92:
                        # Another thread's hold, maybe finished already: a no-op then.
                        quota_settle(request_id=f"t{rng.randrange(THREADS)}-{step}", used_tokens=1)
                    elif roll < 0.95:
                        with transaction.atomic():
                            quota_pack_revoke(order=rng.choice(refundable))
                    elif roll < 0.98:
                        QuotaPack.objects.filter(pk=rng.choice(expiring)).update(
                            expires_at=timezone.now() - timedelta(seconds=1)
                        )
                        quota_packs_expire()
                    else:
                        holds_release_stale(older_than_seconds=0)
                except ApplicationError as exc:
                    if exc.code not in EXPECTED_CODES:
                        raise
            for request_id in mine:
                quota_release(request_id=request_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert quota_ledger_mismatches() == []
    assert not QuotaPack.objects.filter(Q(available__lt=0) | Q(held__lt=0)).exists()
    assert not QuotaHold.objects.filter(status=QuotaHold.Status.HELD).exists()
    assert QuotaPack.objects.filter(held=0).count() == len(packs)
    for hold in QuotaHold.objects.all():
        rows = QuotaLedgerEntry.objects.filter(hold=hold)
        held = rows.filter(kind="hold").aggregate(t=Sum("held_delta"))["t"] or 0
        debited = -(rows.filter(kind="debit").aggregate(t=Sum("held_delta"))["t"] or 0)
        released = rows.filter(kind="release").aggregate(t=Sum("available_delta"))["t"] or 0
        assert held == hold.tokens and debited + released == held  # ended exactly once
        assert debited == hold.used_tokens
    for pack in QuotaPack.objects.all():
        debited = -(
            pack.ledger_entries.filter(kind="debit").aggregate(t=Sum("held_delta"))["t"] or 0
        )
        assert debited <= pack.tokens  # never paid out more than it held
    # The mix really happened: refunds and expiries closed packs while holds ran.
    assert QuotaPack.objects.filter(closed_at__isnull=False).exists()
    assert QuotaLedgerEntry.objects.filter(kind="debit").count() > 50
