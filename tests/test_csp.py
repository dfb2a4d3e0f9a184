"""A Content Security Policy on every page: scripts only from the store's own files (and
Stripe's on the pay page only), no inline script or handler in any template, and Chromium
enforces it (the card form's journeys run under it)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests import conftest

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.django_db
def test_every_page_carries_the_policy(client, user):
    client.force_login(user)
    for path in ("/", "/gpts/", "/accounts/login/", "/billing/credits/"):
        policy = directives(client.get(path))
        assert policy["script-src"] == ["'self'"], path
        assert policy["connect-src"] == ["'self'"] and policy["frame-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["img-src"] == ["'self'", "data:"]


def test_no_template_has_an_inline_script_or_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    handler = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)[:80]}"
        for path in TEMPLATES.rglob("*.html")
        for pattern in (inline_script, handler)
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_refuses_an_injected_inline_script(live_server, browser):
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.appendChild(script);
            return window.injected === true;
        }"""
    )
    page.wait_for_timeout(200)  # the console message arrives after the refusal
    assert ran is False
    refused = list(conftest.CSP_VIOLATIONS)
    conftest.CSP_VIOLATIONS.clear()  # expected here; any other test would fail on it
    assert any("inline script" in message for message in refused), refused
