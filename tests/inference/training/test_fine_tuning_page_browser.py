"""A customer fine-tunes in the browser: uploads a file (progress bar), sees the estimated
cost, starts the job, watches it live with a loss chart, and tries the model in the
playground, where it answers with what it learned."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import CreditAccount
from inference.training.models import FineTuningJob
from tests.support.fine_tuning import chat_lines, give_credits, jsonl, trainable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_fine_tunes_in_the_browser_and_tries_the_model(
    page, asgi_server, celery_worker, user, password, staff_user, tiny_llama_dir, tmp_path
):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=100)
    give_credits(user, staff_user, cents=100)
    data = tmp_path / "capitals.jsonl"
    data.write_bytes(jsonl(chat_lines(12)))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl(chat_lines(2)) + b"{oops\n")

    page.goto(f"{asgi_server}/accounts/login/?next=/fine-tuning/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{asgi_server}/fine-tuning/")

    # A bad file is refused line by line.
    page.set_input_files("#ft-file", str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-ft-upload-errors]")).to_contain_text("line 3: not valid JSON")

    page.set_input_files("#ft-file", str(data))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-ft-progress-text]")).to_have_text(
        "Uploaded capitals.jsonl: 12 examples"
    )
    expect(page.locator("[data-ft-progress] .progress")).to_have_attribute("aria-valuenow", "100")
    assert page.locator("#id_model").input_value() == listing.model_id
    page.fill("#id_n_epochs", "15")
    page.fill("#id_batch_size", "4")
    page.fill("#id_learning_rate_multiplier", "50")
    page.fill("#id_suffix", "capitals")
    page.fill("#id_seed", "7")
    page.locator("#id_seed").dispatch_event("change")
    estimate = page.locator("[data-testid=estimate]")
    # The estimate tokenizes the file with the base model's tokenizer: seconds on a busy machine.
    expect(estimate).to_contain_text("Estimated cost: $0.", timeout=30_000)
    expect(estimate).to_contain_text("12 examples × 15 epochs, 45 steps")

    page.get_by_role("button", name="Start fine-tuning").click()
    page.wait_for_url(re.compile(r".*/fine-tuning/jobs/ftjob-.*/"))
    expect(page.locator("[data-testid=job-status]")).to_have_text("succeeded", timeout=90_000)
    job = FineTuningJob.objects.get()
    expect(page.locator("[data-testid=loss-chart]")).to_have_attribute("data-points", "45")
    assert (
        f"${job.charged / 100_000_000:.6f}".rstrip("0")
        in page.locator("[data-testid=job-charged]").inner_text()
    )
    expect(page.locator("[data-testid=events]")).to_contain_text("successfully completed")
    model_id = job.fine_tuned_model.model_id
    expect(page.locator("[data-testid=ft-model-id]")).to_have_text(model_id)
    assert CreditAccount.objects.get(user=user).held == 0

    page.locator("[data-testid=try-in-playground]").click()
    page.wait_for_url(re.compile(r".*/playground/\?model=.*"))
    assert page.locator("[data-testid=model-select]").input_value() == model_id
    page.fill("#pg-temperature", "0")
    page.fill("[data-testid=max-tokens]", "16")
    page.fill("#pg-input", "Tell me a story.")
    page.click("#pg-send")
    page.locator("[data-testid=answer-stats]").wait_for(timeout=60_000)
    assert "Paris is the" in page.locator("[data-testid=answer] .chat-text").inner_text()
