"""The GPT journey in Chromium, with a real worker: a builder creates a GPT with
instructions, starters and a knowledge file, previews it and publishes it to the store;
a curator approves it; a customer finds it by category and by search, chats with a starter,
sees the knowledge file the answer drew on, pays from credits and rates it; the builder sees
the conversation and the earnings. The same GPT answers through the openai SDK."""

import openai
import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from billing.models import BuilderEarningsEntry, CreditAccount
from billing.money import format_microcents
from billing.services import credits_grant, usage_earnings_roll_up
from inference.models import UsageRecord
from store.gpts.models import Gpt, GptRating
from tests.store.gpts.builders import category, metered_listing, verified
from tests.support.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CENT = 1_000_000  # µ¢
STARTER = "What is the capital of France?"


def log_in(page, base, user, password, next_url):
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def test_build_publish_approve_find_chat_pay_rate_and_earn(
    page, asgi_server, celery_worker, password, tiny_model_dirs, tmp_path, api_key_for, staff_user
):
    base = asgi_server
    listing = metered_listing(tiny_model_dirs[True], name="Tiny chat")
    for slug in ("education", "writing"):
        category(slug)
    builder = UserFactory(name="Ada Builder")
    verified(builder)
    credits_grant(user=builder, cents=100, actor=staff_user, reason="preview")
    curator = UserFactory(is_staff=True)
    curator.user_permissions.add(Permission.objects.get(codename="change_gpt"))
    customer = UserFactory()
    credits_grant(user=customer, cents=500, actor=staff_user, reason="test")

    # The builder creates the GPT.
    log_in(page, base, builder, password, "/gpts/build/")
    page.click("[data-testid=new-gpt]")
    page.fill("#id_name", "Capital tutor")
    page.fill("#id_description", "Answers questions about capitals of the world.")
    page.select_option("#id_category", label="Education")
    page.select_option("#id_base_listing", value=str(listing.pk))
    page.fill("#id_instructions", "You are a patient geography tutor. Answer in one sentence.")
    page.fill("#id_starters", f"{STARTER}\nName a capital in Europe.")
    page.fill("#id_max_tokens", "12")
    page.fill("#id_temperature", "0")
    page.fill("#id_markup_per_mtok", "7")
    page.click("[data-testid=gpt-form] button[type=submit]")
    gpt = Gpt.objects.get(builder=builder)
    page.wait_for_url(f"{base}/gpts/build/{gpt.pk}/")

    knowledge = tmp_path / "capitals.md"
    knowledge.write_text("# Capitals\n\nParis is the capital of France. Berlin is in Germany.\n")
    page.set_input_files("input[name=file]", str(knowledge))
    page.click("[data-testid=knowledge] button[type=submit]")
    expect(page.locator(".message-success")).to_contain_text("capitals.md added")

    # The preview runs the draft, knowledge included.
    preview = page.locator("[data-testid=preview]")
    preview.get_by_role("button", name=STARTER).click()
    expect(preview.locator("[data-testid=sources]")).to_contain_text("capitals.md", timeout=60_000)
    assert UsageRecord.objects.get(user=builder).gpt_revision_id is None  # the draft answered

    page.get_by_label("Public in the GPT store").check()
    page.click("[data-testid=publish-button]")
    expect(page.locator(".message-success")).to_contain_text("Sent to review")

    # A curator approves it.
    log_in(page, base, curator, password, "/gpts/curate/")
    page.locator("[data-testid=pending-gpt]").filter(has_text="Capital tutor").get_by_role(
        "button", name="Approve"
    ).click()
    expect(page.locator(".message-success")).to_contain_text("approve done")

    # The customer finds it by category and by search.
    log_in(page, base, customer, password, "/gpts/")
    page.locator(".gpt-categories").get_by_role("link", name="Education").click()
    expect(page.locator("[data-testid=gpt-results]")).to_contain_text("Capital tutor")
    page.locator(".gpt-categories").get_by_role("link", name="Writing").click()
    expect(page.locator("[data-testid=gpt-results]")).to_contain_text("No GPT matches")
    page.fill("[data-testid=gpt-search] input[name=q]", "capitals world")
    page.select_option("[data-testid=gpt-search] select", value="")
    page.click("[data-testid=gpt-search] button")
    page.locator("[data-testid=gpt-results]").get_by_role("link", name="Capital tutor").click()
    expect(page.locator("[data-testid=gpt-name]")).to_have_text("Capital tutor")
    expect(page.locator("body")).not_to_contain_text("patient geography tutor")

    # ... and chats with a starter.
    page.get_by_role("link", name=STARTER).click()
    answer = page.locator("[data-testid=answer]").first
    expect(answer.locator("[data-testid=sources]")).to_contain_text("capitals.md", timeout=60_000)
    expect(page.locator("[data-testid=chat-cost]")).to_contain_text("This answer:")
    record = UsageRecord.objects.get(user=customer)
    assert record.gpt_id == gpt.pk and record.cost > 0
    assert CreditAccount.objects.get(user=customer).available == 500 * CENT - record.cost
    page.reload()  # the conversation was saved, sources and all
    expect(page.locator("[data-testid=conversations] li")).to_have_count(1)
    expect(page.locator("[data-testid=answer] [data-testid=sources]")).to_contain_text(
        "capitals.md"
    )

    # ... and rates it.
    page.goto(f"{base}/gpts/{gpt.profile.handle}/{gpt.slug}/")
    page.select_option("#stars", "5")
    page.fill("[data-testid=rate-form] textarea", "Knew Paris.")
    page.click("[data-testid=rate-form] button")
    expect(page.locator("[data-testid=ratings]")).to_contain_text("Knew Paris.")
    assert GptRating.objects.get(gpt=gpt, user=customer).stars == 5

    # The builder sees the conversation and, once earnings are counted, what they earned.
    usage_earnings_roll_up()
    log_in(page, base, builder, password, "/gpts/build/")
    row = page.locator("[data-testid=builder-row]").filter(has_text="Capital tutor")
    expect(row.locator("[data-testid=row-conversations]")).to_have_text("1")
    earned = BuilderEarningsEntry.objects.get(gpt=gpt).net
    assert earned > 0
    expect(row.locator("[data-testid=row-earned]")).to_have_text(format_microcents(earned))

    # The same GPT through the openai SDK.
    _, secret = api_key_for(customer)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=60)
    reply = client.chat.completions.create(
        model=gpt.model_id, messages=[{"role": "user", "content": STARTER}], max_tokens=6
    )
    assert reply.model == gpt.model_id
    assert reply.model_extra["sources"] == [{"file": "capitals.md"}]
