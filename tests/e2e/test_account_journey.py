"""A visitor's first hour, in a real Chromium: sign up, become a publisher, use and revoke a key."""

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_become_publisher_create_use_and_revoke_a_key(
    live_server, browser, staff_user, password
):
    visitor = browser.new_context().new_page()
    visitor.goto(live_server.url + "/")
    visitor.get_by_role("link", name="Sign up").click()
    visitor.fill("#id_email", "ada@example.com")
    visitor.fill("#id_password", "analytical-engine-1843")
    visitor.fill("#id_password_confirm", "analytical-engine-1843")
    visitor.get_by_role("button", name="Sign up").click()
    assert visitor.get_by_test_id("role").inner_text() == "customer"

    visitor.get_by_role("link", name="Become a publisher").first.click()
    visitor.fill("#id_display_name", "Ada Labs")
    visitor.fill("#id_slug", "ada-labs")
    visitor.fill("#id_bio", "Tiny models that count.")
    visitor.get_by_role("button", name="Submit application").click()
    assert "pending review" in visitor.get_by_test_id("publisher-status").inner_text()

    staff = browser.new_context().new_page()
    staff.goto(live_server.url + "/admin/login/")
    staff.fill("#id_username", staff_user.email)
    staff.fill("#id_password", password)
    staff.click("input[type=submit]")
    staff.goto(live_server.url + "/admin/accounts/publisherprofile/?status__exact=pending")
    staff.locator("tr", has_text="Ada Labs").locator("input.action-select").check()
    staff.select_option("select[name=action]", "approve_and_verify")
    staff.click("button[name=index]")
    assert "Approved: 1 publisher profile(s)." in staff.locator("ul.messagelist").inner_text()

    visitor.reload()
    assert visitor.get_by_test_id("role").inner_text() == "publisher"
    assert "verified" in visitor.get_by_test_id("publisher-status").inner_text()

    visitor.goto(live_server.url + "/accounts/keys/")
    visitor.fill("#id_name", "notebook")
    visitor.get_by_role("button", name="Create key").click()
    secret = visitor.get_by_test_id("secret").inner_text().strip()
    assert secret.startswith("gpts_")

    models = httpx.get(
        f"{live_server.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}
    )
    assert models.status_code == 200
    assert models.json()["object"] == "list"

    visitor.reload()  # a reload re-shows nothing: the secret was shown once
    assert secret not in visitor.content()
    row = visitor.locator("tr", has_text="notebook")
    assert "never" not in row.inner_text()  # last used is shown
    row.get_by_role("button", name="Revoke").click()
    assert "revoked" in visitor.locator("tr", has_text="notebook").inner_text()

    refused = httpx.get(
        f"{live_server.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_the_layout_is_usable_on_a_phone(live_server, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(live_server.url + "/")
    expect(phone.locator(".site-nav")).to_be_hidden()
    phone.locator(".nav-toggle-label").click()
    expect(phone.get_by_role("link", name="Log in")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
