"""A customer chats with a rented tiny model in the playground: the answer streams in,
the tokens per second and tokens charged show under it, and the usage page counts it."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from inference.models import UsageRecord
from tests.support.servable import available_tokens, grant_rental, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_playground_streams_an_answer_and_shows_what_it_cost(
    page, asgi_server, celery_worker, user, password, tiny_model_dirs
):
    listing = servable_listing(
        tiny_model_dirs[True], name="Story teller", conversation_starters=["Tell me a story."]
    )
    grant_rental(user, listing, tokens=5000)

    page.goto(f"{asgi_server}/accounts/login/?next=/playground/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{asgi_server}/playground/")
    assert page.locator("[data-testid=model-select]").input_value() == listing.model_id

    expect(page.locator("#pg-stop")).to_be_hidden()  # only while an answer streams
    page.fill("[data-testid=max-tokens]", "40")
    page.get_by_role("button", name="Tell me a story.").click()
    assert page.locator("[data-testid=question]").inner_text() == "Tell me a story."
    stats = page.locator("[data-testid=answer-stats]")
    # The worker's first request of the session loads torch and the model.
    stats.wait_for(timeout=60_000)
    assert page.locator("[data-testid=answer] .chat-text").inner_text().strip()

    record = UsageRecord.objects.get()
    assert record.source == "playground"
    # The sampled answer may end early on the model's end token; never beyond max tokens.
    assert 0 < record.completion_tokens <= 40
    assert record.finish_reason == ("length" if record.completion_tokens == 40 else "stop")
    shown = stats.inner_text()
    assert re.search(rf"{record.completion_tokens} tokens · [\d.]+ tokens/s", shown)
    assert f"charged {record.charged_tokens} tokens" in shown
    assert available_tokens(user, listing) == 5000 - record.charged_tokens

    # A follow-up question carries the conversation.
    page.fill("#pg-input", "And then?")
    page.click("#pg-send")
    page.locator("[data-testid=answer-stats]").nth(1).wait_for()
    follow_up = UsageRecord.objects.order_by("-created_at").first()
    assert follow_up.prompt_tokens > record.prompt_tokens + record.completion_tokens

    # The controls reach the model: at temperature 0 a new chat gets the same answer again
    # (two sampled answers would differ), and max tokens bounds it.
    page.fill("#pg-temperature", "0")
    expect(page.locator("#pg-temperature-value")).to_have_text("0")
    page.fill("[data-testid=max-tokens]", "12")
    greedy = []
    for _ in range(2):
        page.click("#pg-reset")
        page.fill("#pg-input", "Say hello")
        page.click("#pg-send")
        page.locator("[data-testid=answer-stats]").wait_for()
        greedy.append(page.locator("[data-testid=answer] .chat-text").inner_text())
    assert greedy[0] == greedy[1]
    latest = UsageRecord.objects.order_by("-created_at")[:2]
    assert [r.completion_tokens for r in latest] == [12, 12]

    page.goto(f"{asgi_server}/usage/")
    assert listing.model_id in page.locator("[data-testid=usage-table]").inner_text()
    # The vendored chart library drew each chart (a canvas it left blank has no opaque pixel).
    for chart in ("usage-tokens-model", "usage-requests-model", "usage-tokens-key"):
        expect(page.locator(f"#{chart}")).to_be_visible()
        page.wait_for_function(DRAWN, arg=chart)

    # Stopping an answer mid-stream cancels it; only what was produced is charged.
    # A sampling toy model may end on its end token before Stop is clicked, or the worker may
    # finish before the stop reaches it (then the answer is whole and charged whole): try again.
    for _attempt in range(5):
        before = UsageRecord.objects.count()
        page.goto(f"{asgi_server}/playground/")
        page.fill("[data-testid=max-tokens]", "900")
        page.fill("#pg-input", "Tell me a very long story.")
        page.click("#pg-send")
        # A function, not an expression: the page's Content Security Policy forbids eval.
        page.wait_for_function(
            "() => document.querySelector('[data-testid=answer] .chat-text').textContent.length > 0"
        )
        try:
            page.click("#pg-stop", timeout=2_000)
        except PlaywrightTimeoutError:
            wait_for_record(count=before + 1)
            continue  # the answer finished by itself
        page.get_by_text("[stopped]").wait_for()
        latest = wait_for_record(count=before + 1)
        if UsageRecord.objects.filter(status="cancelled").exists():
            break
        assert latest.finish_reason in ("stop", "length")  # it was whole when the stop arrived
    else:
        pytest.fail("every answer ended before Stop could reach the worker")
    stopped = wait_for_record(status="cancelled")
    assert stopped.completion_tokens < 900
    assert stopped.charged_tokens == stopped.prompt_tokens + stopped.completion_tokens
    charged = sum(UsageRecord.objects.values_list("charged_tokens", flat=True))
    assert available_tokens(user, listing) == 5000 - charged


DRAWN = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha]) return true;
  return false;
}"""


def wait_for_record(count=1, **filters):
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        records = UsageRecord.objects.filter(**filters).order_by("-created_at")
        if records.count() >= count:
            return records.first()
        time.sleep(0.1)
    found = list(UsageRecord.objects.values_list("status", "finish_reason", "completion_tokens"))
    raise AssertionError(f"no usage record with {filters}; there are {found}")
