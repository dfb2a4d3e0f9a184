"""A customer tops up credits by card, calls a model sold per token in the playground, and
sees the exact cost under the answer, on the usage page and in the balance; the publisher
sees the revenue. Real Chromium, localstripe, uvicorn and a Celery worker."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import CreditAccount, CreditTopUp
from billing.selectors import credit_ledger_mismatches, usage_earnings_totals
from billing.services import token_price_set, usage_earnings_roll_up
from inference.models import UsageRecord
from tests.e2e.test_buy_journey import pay_with_card
from tests.e2e.test_playground_journey import DRAWN
from tests.support.processes import start_asgi_server, stop_process
from tests.support.servable import servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CENT = 1_000_000  # µ¢


@pytest.fixture
def store(localstripe, celery_worker, tmp_path):
    """uvicorn (streamed answers) speaking to this session's localstripe."""
    process, base = start_asgi_server(
        log_path=tmp_path / "uvicorn.log",
        extra_env={
            "STRIPE_API_BASE": localstripe,
            "STRIPE_JS_URL": f"{localstripe}/js.stripe.com/v3/",
        },
    )
    yield base
    stop_process(process)


def test_top_up_by_card_then_pay_per_token_in_the_playground(
    page, store, user, password, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True], name="Metered teller")
    # A cent per 1M prompt tokens and two per 1M completion tokens.
    token_price_set(
        listing=listing, actor=listing.publisher.user, input_per_mtok=100, output_per_mtok=200
    )
    page.set_default_timeout(20_000)
    page.goto(f"{store}/accounts/login/?next=/billing/credits/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{store}/billing/credits/")
    expect(page.get_by_test_id("low-balance")).to_be_visible()

    # A declined card first: nothing is added, and the customer starts again.
    page.get_by_test_id("topup-preset").filter(has_text="$5.00").click()
    expect(page.get_by_test_id("pay-button")).to_have_text("Pay $5.00")
    pay_with_card(page, "4000000000000341")
    assert page.get_by_role("alert").inner_text() == "Your card was declined."
    page.get_by_role("button", name="Try another card").click()
    page.wait_for_url(f"{store}/billing/credits/")
    page.get_by_test_id("topup-preset").filter(has_text="$5.00").click()
    pay_with_card(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/billing/credits/topups/[0-9a-f-]+/$"))
    expect(page.get_by_test_id("topup-status")).to_have_text("Paid")
    expect(page.get_by_test_id("receipt-total")).to_have_text("$5.00")
    assert list(CreditTopUp.objects.values_list("status", flat=True).order_by("id")) == [
        "failed",
        "paid",
    ]

    page.goto(f"{store}/billing/credits/")
    expect(page.get_by_test_id("credit-balance")).to_have_text("$5.00")
    expect(page.get_by_test_id("low-balance")).to_have_count(0)

    # The playground answers from the metered model and says what the answer cost.
    page.goto(f"{store}/playground/?model={listing.model_id}")
    page.fill("[data-testid=max-tokens]", "12")
    page.fill("#pg-input", "Say hello")
    page.click("#pg-send")
    stats = page.locator("[data-testid=answer-stats]")
    stats.wait_for(timeout=60_000)
    record = UsageRecord.objects.get()
    assert record.access == "credits"
    assert record.cost == record.prompt_tokens * 100 + record.completion_tokens * 200
    shown = re.search(r"cost \$([0-9.]+)", stats.inner_text()).group(1)
    assert Decimal(shown) == Decimal(record.cost) / 100_000_000
    assert CreditAccount.objects.get(user=user).available == 500 * CENT - record.cost
    assert credit_ledger_mismatches() == []

    # The usage page shows the spend, in a table and a drawn chart.
    page.goto(f"{store}/usage/")
    expect(page.get_by_test_id("total-cost")).to_have_text(f"${shown}")
    assert f"${shown}" in page.get_by_test_id("usage-table").inner_text()
    page.wait_for_function(DRAWN, arg="usage-cost-model")

    # The publisher earns from it once the spend is rolled up (every minute in production).
    usage_earnings_roll_up()
    assert usage_earnings_totals(publisher=listing.publisher)["gross"] == record.cost
