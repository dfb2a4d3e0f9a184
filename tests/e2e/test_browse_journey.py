"""Curate and browse in a real Chromium: staff approve from /curate/, a visitor finds the model
by a word of its card from the header search, reads its page and reports it; staff close the report."""

import pytest
from playwright.sync_api import expect

from store.models import Listing, ListingReport
from tests.support.factories import ListingFactory, ListingVersionFactory, WeightFileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url, email, password):
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()


def test_staff_approve_then_a_visitor_finds_reads_and_reports_the_model(
    live_server, browser, staff_user, user, password
):
    listing = ListingFactory(
        name="Lighthouse Keeper 135M",
        status=Listing.Status.PENDING,
        summary="Answers questions about the sea.",
        card_markdown="## About\n\nTrained on logbooks about **cormorants** and tides.",
    )
    version = ListingVersionFactory(
        listing=listing, processing_report={"generation": "The tide rolls in"}
    )
    WeightFileFactory(version=version, path="model.safetensors")

    staff = browser.new_context().new_page()
    log_in(staff, live_server.url, staff_user.email, password)
    staff.goto(live_server.url + "/curate/")
    item = staff.get_by_test_id("queue-item").filter(has_text="Lighthouse Keeper 135M")
    assert "The tide rolls in" in item.inner_text()
    item.get_by_role("button", name="Approve").click()
    expect(staff.get_by_test_id("review-queue")).to_contain_text("Nothing waiting for review.")

    visitor = browser.new_context().new_page()
    log_in(visitor, live_server.url, user.email, password)
    visitor.goto(live_server.url + "/")
    search = visitor.get_by_role("searchbox", name="Search models")
    search.fill("cormorants")
    search.press("Enter")
    expect(visitor.get_by_test_id("result-count")).to_have_text("1 model")
    visitor.get_by_role("link", name="Lighthouse Keeper 135M").click()

    expect(visitor.get_by_role("heading", name="Lighthouse Keeper 135M")).to_be_visible()
    assert visitor.locator(".model-card strong").inner_text() == "cormorants"
    assert "model.safetensors" in visitor.get_by_test_id("versions").inner_text()
    expect(visitor.get_by_test_id("pricing-box")).to_be_visible()

    form = visitor.get_by_test_id("report-form")
    form.locator("select[name=reason]").select_option("misleading")
    form.locator("textarea[name=text]").fill("It knows nothing about cormorants.")
    form.get_by_role("button", name="Send report").click()
    expect(visitor.locator("body")).to_contain_text("Thanks, staff will look at your report.")

    staff.goto(live_server.url + "/curate/")
    row = staff.get_by_test_id("report-row").filter(has_text="It knows nothing about cormorants.")
    row.get_by_role("button", name="Dismiss").click()
    expect(staff.get_by_test_id("reports-queue")).to_contain_text("No open reports.")
    assert ListingReport.objects.get().status == "dismissed"
