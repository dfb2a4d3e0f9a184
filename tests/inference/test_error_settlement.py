"""An answer that fails after the worker produced tokens (its time limit, a fault midway) is
charged what was produced, from a pack or from credits; one that fails before any token is
charged nothing. Either way the hold is closed and nothing is charged twice."""

import pytest

from billing.models import CreditAccount, CreditHold, QuotaHold
from billing.services import credits_grant, token_price_set
from inference.models import UsageRecord
from inference.services import CompletionParams, completion_settle_from_events, completion_start
from tests.support.servable import available_tokens, grant_rental, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ask(user, listing):
    params = CompletionParams(
        model=listing.model_id,
        kind="chat",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=40,
        temperature=0,
    )
    return completion_start(user=user, api_key=None, params=params)


def failed_after(started, produced: int):
    """The worker's last event when it fails after ``produced`` tokens (inference/engine)."""
    error = {
        "type": "error",
        "code": "timeout",
        "message": "Too long.",
        "completion_tokens": produced,
    }
    return completion_settle_from_events(request_id=started.request_id, events=[error])


@pytest.mark.parametrize("produced", [5, 0])
def test_a_pack_pays_what_a_failed_answer_produced(celery_worker, user, tiny_model_dirs, produced):
    listing = servable_listing(tiny_model_dirs[True])
    grant_rental(user, listing, tokens=1000)
    started = ask(user, listing)

    record = failed_after(started, produced)
    charged = started.prompt_tokens + produced if produced else 0
    assert (record.status, record.charged_tokens) == ("error", charged)
    assert available_tokens(user, listing) == 1000 - charged
    assert QuotaHold.objects.get(request_id=started.request_id).status != "held"
    # Settled once: a second final event changes nothing.
    assert failed_after(started, 30).charged_tokens == charged
    assert available_tokens(user, listing) == 1000 - charged


def test_credits_pay_what_a_failed_answer_produced(
    celery_worker, user, staff_user, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True])
    token_price_set(
        listing=listing, actor=listing.publisher.user, input_per_mtok=1_000, output_per_mtok=2_000
    )
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    started = ask(user, listing)

    record = failed_after(started, 5)
    # µ¢: 1,000 per token in, 2,000 per token out (cents per 1M tokens).
    assert record.cost == started.prompt_tokens * 1_000 + 5 * 2_000
    assert record.status == "error" and UsageRecord.objects.count() == 1
    assert CreditHold.objects.get(request_id=started.request_id).status == "settled"
    account = CreditAccount.objects.get(user=user)
    assert account.available == 100 * 1_000_000 - record.cost
