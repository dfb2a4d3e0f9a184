import pytest

from billing.models import QuotaHold, QuotaLedgerEntry
from billing.selectors import access_for
from billing.services import quota_hold, quota_settle
from tests.billing.ledger import assert_ledger_matches, outcomes_at_once


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_holds_against_a_balance_for_ten_let_exactly_ten_through(
    user, listing, rent
):
    pack = rent(user, listing, tokens=1000)

    outcomes = outcomes_at_once(
        50, lambda n: quota_hold(user=user, listing=listing, tokens=100, request_id=f"req-{n}")
    )

    assert outcomes.count("ok") == 10
    assert outcomes.count("insufficient_quota") == 40
    assert QuotaHold.objects.count() == 10
    assert access_for(user=user, listing=listing).available_tokens == 0
    assert_ledger_matches(pack)
    assert pack.held == 1000

    for hold_row in QuotaHold.objects.all():
        quota_settle(request_id=hold_row.request_id, used_tokens=30)
    pack.refresh_from_db()
    assert (pack.available, pack.held) == (700, 0)
    debited = sum(
        -d
        for d in QuotaLedgerEntry.objects.filter(kind="debit").values_list("held_delta", flat=True)
    )
    assert debited == 300
    assert_ledger_matches(pack)
