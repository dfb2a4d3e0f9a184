"""The upload page in a real Chromium: a whole model folder picked at once, and a refusal
shown on the page without leaving it."""

import shutil

import pytest
from django.conf import settings
from playwright.sync_api import expect

from store.models import ListingVersion
from tests.support.models import build_model_folder
from tests.support.uploads import draft_listing

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_publisher_uploads_a_folder_and_sees_a_refusal_in_place(
    live_server, celery_worker, page, publisher, password, tmp_path, request
):
    listing = draft_listing(publisher, name="Folder Model")
    # The worker writes under the real MEDIA_ROOT; remove what this test stored.
    stored = settings.MEDIA_ROOT / "models" / str(listing.pk)
    request.addfinalizer(lambda: shutil.rmtree(stored, ignore_errors=True))
    folder = build_model_folder(tmp_path / "my-model", kind="gpt2")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", publisher.user.email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/publish/{listing.pk}/upload/")
    pickle = tmp_path / "pytorch_model.bin"
    pickle.write_bytes(b"\x80\x04not really")
    page.set_input_files("#id_files", str(pickle))
    # The page's script takes the form over (a click before it would post it plainly).
    expect(page.get_by_test_id("upload-form")).to_have_attribute("data-enhanced", "true")
    page.get_by_test_id("upload-button").click()
    expect(page.get_by_test_id("upload-errors")).to_contain_text("pickle checkpoints")
    assert page.url.endswith("/upload/")

    page.set_input_files("#id_files", [])
    page.set_input_files("#id_folder", str(folder))
    page.get_by_test_id("upload-button").click()
    card = page.get_by_test_id("version-1")
    expect(card.get_by_test_id("status")).to_have_text("Ready", timeout=60_000)
    expect(card).to_contain_text("GPT2LMHeadModel")
    version = ListingVersion.objects.get(listing=listing)
    assert version.processing_report["upload"]["kind"] == "folder"
    assert {f.path for f in version.files.all()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }
