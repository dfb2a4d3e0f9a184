"""Concurrent holds and settlements of one process share a statement and a commit
(billing/services/ledger_sql.Combiner), and each caller still gets its own answer."""

import pytest
from django.test import override_settings

from billing.models import QuotaHold
from billing.selectors import quota_ledger_mismatches
from billing.services import quota_hold, quota_settle
from billing.services.quota import _HOLDS
from tests.billing.ledger import outcomes_at_once
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def statements() -> int:
    """Statements the quota-hold combiner of this process sent (one per batch or call)."""
    return _HOLDS.statements


def holds_at_once(user, listing, count: int, *, request_ids=None) -> list[str]:
    request_ids = request_ids or [f"r{n}" for n in range(count)]
    return outcomes_at_once(
        count,
        lambda n: quota_hold(user=user, listing=listing, tokens=10, request_id=request_ids[n]),
    )


def test_forty_concurrent_holds_commit_in_fewer_transactions(listing, rent):
    user = UserFactory()
    rent(user, listing, tokens=100_000)
    before = statements()

    outcomes = holds_at_once(user, listing, 40)

    assert outcomes == ["ok"] * 40
    assert statements() - before < 40
    assert QuotaHold.objects.filter(status="held").count() == 40
    assert quota_ledger_mismatches() == []


@override_settings(LEDGER_COMBINE=False)
def test_without_combining_each_hold_is_its_own_commit(listing, rent):
    user = UserFactory()
    rent(user, listing, tokens=100_000)
    before = statements()

    assert holds_at_once(user, listing, 40) == ["ok"] * 40

    assert statements() - before == 40


def test_a_duplicate_in_a_shared_batch_is_refused_alone(listing, rent):
    user = UserFactory()
    rent(user, listing, tokens=100_000)
    request_ids = [f"r{n}" for n in range(19)] + ["r0"]

    outcomes = holds_at_once(user, listing, 20, request_ids=request_ids)

    assert sorted(outcomes) == ["duplicate_request"] + ["ok"] * 19
    assert QuotaHold.objects.count() == 19
    assert quota_ledger_mismatches() == []


def test_a_shared_batch_refuses_exactly_what_the_balance_cannot_cover(listing, rent):
    user = UserFactory()
    rent(user, listing, tokens=100)  # ten holds of 10 tokens

    outcomes = holds_at_once(user, listing, 30)

    assert sorted(set(outcomes)) == ["insufficient_quota", "ok"]
    assert outcomes.count("ok") == 10
    held = list(QuotaHold.objects.order_by("id").values_list("request_id", flat=True))
    settled = outcomes_at_once(10, lambda n: quota_settle(request_id=held[n], used_tokens=4))
    assert settled == ["ok"] * 10
    assert set(QuotaHold.objects.values_list("status", "used_tokens")) == {("settled", 4)}
    assert quota_ledger_mismatches() == []


def test_a_random_mix_of_credit_calls_on_shared_accounts_and_keys_keeps_every_invariant(
    listing, publisher
):
    import random
    import threading

    from django.db import connection as db

    from billing.models import CreditAccount, CreditHold, KeySpend
    from billing.selectors import credit_ledger_mismatches
    from billing.services import (
        credits_grant,
        credits_hold,
        credits_release,
        credits_settle,
        token_price_set,
    )
    from config.api_errors import ApplicationError
    from tests.support.factories import ApiKeyFactory

    price = token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=1_000, output_per_mtok=1_000
    )
    customers = [UserFactory() for _ in range(3)]
    keys = {}
    for user in customers:
        credits_grant(user=user, cents=5, actor=None, reason="stress")
        keys[user.pk] = [
            ApiKeyFactory.issue(user=user, monthly_spend_limit=3)[0],
            ApiKeyFactory.issue(user=user)[0],
        ]
    start = threading.Barrier(12)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        try:
            start.wait()
            for step in range(40):
                try:
                    if rng.random() < 0.5 or not mine:
                        user = rng.choice(customers)
                        request_id = f"c{n}-{step}"
                        credits_hold(
                            user=user, listing=listing, price=price,
                            amount=rng.randint(1, 400) * 1_000, request_id=request_id,
                            api_key=rng.choice(keys[user.pk]),
                        )  # fmt: skip
                        mine.append(request_id)
                    elif rng.random() < 0.6:
                        credits_settle(
                            request_id=mine.pop(0),
                            prompt_tokens=rng.randint(0, 500),
                            completion_tokens=0,
                        )
                    else:
                        credits_release(request_id=mine.pop(0))
                except ApplicationError as exc:
                    assert exc.code in {"insufficient_quota", "budget_exceeded"}, exc.code
            for request_id in mine:
                credits_release(request_id=request_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert credit_ledger_mismatches() == []
    assert not CreditHold.objects.filter(status="held").exists()
    assert not CreditAccount.objects.filter(available__lt=0).exists()
    for spend in KeySpend.objects.select_related("api_key"):
        used = sum(CreditHold.objects.filter(api_key=spend.api_key).values_list("used", flat=True))
        assert spend.spent == used  # every hold finished: the month counts what was spent
        if spend.api_key.monthly_spend_limit:
            assert spend.spent <= spend.api_key.monthly_spend_limit * 1_000_000
