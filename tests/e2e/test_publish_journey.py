"""Publishing in a real Chromium with a real worker: a publisher uploads a GGUF file and watches
it processed to ready, submits it; staff approve it; a visitor finds it by a word of its card."""

import shutil

import pytest
from django.conf import settings
from playwright.sync_api import expect

from store.models import Listing
from tests.support.models import build_llama_gguf

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url, email, password):
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def listing_media():
    """The worker writes under the real MEDIA_ROOT; remove what this journey stored."""
    created: list[int] = []
    yield created
    for listing_id in created:
        shutil.rmtree(settings.MEDIA_ROOT / "models" / str(listing_id), ignore_errors=True)


def test_a_publisher_uploads_a_gguf_staff_approve_and_a_visitor_finds_it(
    live_server, celery_worker, browser, publisher, staff_user, password, tmp_path, listing_media
):
    gguf = build_llama_gguf(tmp_path / "albatross-tiny.gguf")

    studio = browser.new_context().new_page()
    studio.set_default_timeout(20_000)
    log_in(studio, live_server.url, publisher.user.email, password)
    studio.goto(live_server.url + "/publish/")
    studio.get_by_role("link", name="New listing").click()
    studio.fill("#id_name", "Albatross Tiny")
    studio.fill("#id_summary", "A tiny llama for seabird facts.")
    studio.fill("#id_card_markdown", "It dreams of **petrichor** and wide oceans.")
    studio.select_option("#id_license", "mit")
    studio.get_by_role("button", name="Create draft").click()
    listing = Listing.objects.get(publisher=publisher, slug="albatross-tiny")
    listing_media.append(listing.pk)

    expect(studio.get_by_role("heading", name="Upload a new version")).to_be_visible()
    studio.set_input_files("#id_files", str(gguf))
    # A slow uplink, so that the upload's progress bar is there to be seen.
    network = studio.context.new_cdp_session(studio)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 60_000},
    )
    # The page's script takes the form over (a click before it would post it plainly).
    expect(studio.get_by_test_id("upload-form")).to_have_attribute("data-enhanced", "true")
    studio.get_by_test_id("upload-button").click()
    expect(studio.get_by_test_id("upload-progress-text")).to_contain_text("Uploading:")
    expect(studio.get_by_test_id("upload-button")).to_be_disabled()

    # The upload script lands on the listing's studio page, which follows processing live.
    version_card = studio.get_by_test_id("version-1")
    expect(version_card).to_be_visible(timeout=60_000)
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(version_card.get_by_test_id("status")).to_have_text("Ready", timeout=120_000)
    expect(version_card.get_by_test_id("sample")).to_contain_text("Hello!")
    files = version_card.get_by_test_id("files").inner_text()
    assert "model.safetensors" in files and "config.json" in files
    assert "LlamaForCausalLM" in version_card.inner_text()

    studio.get_by_test_id("submit-for-review").click()
    expect(studio.locator(".messages")).to_contain_text("Submitted for review")
    expect(studio.get_by_test_id("status").first).to_have_text("Pending review")

    staff = browser.new_context().new_page()
    log_in(staff, live_server.url, staff_user.email, password)
    staff.goto(live_server.url + "/curate/")
    item = staff.get_by_test_id("queue-item").filter(has_text="Albatross Tiny")
    expect(item).to_contain_text("LlamaForCausalLM")
    item.get_by_role("button", name="Approve").click()
    expect(staff.get_by_test_id("review-queue")).to_contain_text("Nothing waiting for review.")

    visitor = browser.new_context().new_page()
    visitor.goto(live_server.url + "/")
    search = visitor.get_by_role("searchbox", name="Search models")
    search.fill("petrichor")
    search.press("Enter")
    expect(visitor.get_by_test_id("result-count")).to_have_text("1 model")
    visitor.get_by_role("link", name="Albatross Tiny").first.click()
    expect(visitor.get_by_role("heading", name="Albatross Tiny")).to_be_visible()
    expect(visitor.locator(".model-card strong")).to_have_text("petrichor")

    studio.reload()
    expect(studio.get_by_test_id("status").first).to_have_text("Approved")
