import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_then_only_its_prefix(client, user):
    client.force_login(user)
    response = client.post("/accounts/keys/", {"name": "laptop"}, follow=True)
    html = response.content.decode()
    secret = re.search(r"gpts_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}", html).group(0)
    key = ApiKey.objects.get(user=user)
    assert secret.startswith(f"gpts_{key.prefix}_")
    assert secret not in key.secret_hash
    again = client.get("/accounts/keys/").content.decode()
    assert secret not in again
    assert f"gpts_{key.prefix}_" in again


def test_a_new_secret_is_never_kept_in_the_session(client, user):
    from django.contrib.sessions.models import Session

    client.force_login(user)
    html = client.post("/accounts/keys/", {"name": "laptop", "form_id": "f1"}).content.decode()
    secret = re.search(r"gpts_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}", html).group(0)

    stored = "".join(Session.objects.values_list("session_data", flat=True))
    decoded = str(dict(client.session.items()))
    assert secret.split("_", 2)[2] not in stored + decoded  # the random part, whole


def test_a_reposted_key_form_creates_no_second_key(client, user):
    client.force_login(user)
    client.post("/accounts/keys/", {"name": "laptop", "form_id": "f1"})

    again = client.post("/accounts/keys/", {"name": "laptop", "form_id": "f1"}, follow=True)

    assert ApiKey.objects.filter(user=user).count() == 1
    assert "already created" in again.content.decode()


def test_keys_are_stored_as_hashes_only(user, api_key_for):
    key, secret = api_key_for(user)
    stored = ApiKey.objects.filter(pk=key.pk).values_list("prefix", "secret_hash", "name")[0]
    assert all(secret not in str(value) for value in stored)
    assert len(key.secret_hash) == 64


def test_a_key_carries_its_optional_limits(client, user):
    client.force_login(user)
    client.post(
        "/accounts/keys/",
        {
            "name": "ci",
            "requests_per_minute": "30",
            "tokens_per_minute": "5000",
            "monthly_token_budget": "1000000",
        },
    )
    key = ApiKey.objects.get(user=user)
    assert (key.requests_per_minute, key.tokens_per_minute, key.monthly_token_budget) == (
        30,
        5000,
        1_000_000,
    )


def test_limits_must_be_positive(client, user):
    client.force_login(user)
    response = client.post("/accounts/keys/", {"name": "ci", "requests_per_minute": "0"})
    assert "greater than or equal to 1" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_using_a_key_records_when_it_was_last_used(client, user, api_key_for):
    key, secret = api_key_for(user)
    assert key.last_used_at is None
    client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}")
    key.refresh_from_db()
    assert key.last_used_at is not None
    client.force_login(user)
    assert "never" not in client.get("/accounts/keys/").content.decode().split("<tbody>")[1]


def test_the_owner_revokes_a_key_and_it_stops_working(client, user, api_key_for):
    key, secret = api_key_for(user)
    client.force_login(user)
    response = client.post(f"/accounts/keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert "revoked" in client.get("/accounts/keys/").content.decode()


def test_another_user_cannot_revoke_or_see_my_key(client, user, other_user, api_key_for):
    key, secret = api_key_for(user, name="mine-only")
    client.force_login(other_user)
    assert client.post(f"/accounts/keys/{key.pk}/revoke/").status_code == 404
    assert "mine-only" not in client.get("/accounts/keys/").content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, user, api_key_for):
    key, _ = api_key_for(user)
    assert client.get("/accounts/keys/")["Location"].startswith("/accounts/login/")
    assert client.post(f"/accounts/keys/{key.pk}/revoke/")["Location"].startswith(
        "/accounts/login/"
    )
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoking_needs_post(client, user, api_key_for):
    key, _ = api_key_for(user)
    client.force_login(user)
    assert client.get(f"/accounts/keys/{key.pk}/revoke/").status_code == 405


def test_operators_issue_a_key_from_the_command_line(user, client, capsys):
    call_command("create_api_key", user.email, "--name", "support")
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("gpts_")
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    assert ApiKey.objects.get(user=user).name == "support"


def test_the_command_refuses_an_unknown_email():
    with pytest.raises(CommandError, match="No user has the email"):
        call_command("create_api_key", "ghost@example.com", "--name", "x")
