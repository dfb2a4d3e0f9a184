import pytest
from django.core import mail

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_visitor_signs_up_and_lands_logged_in_on_the_dashboard(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New@Example.com",
            "password": "a-long-unusual-passphrase",
            "password_confirm": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    page = client.get("/accounts/")
    assert "new@example.com" in page.content.decode()
    assert User.objects.get(email="new@example.com").role == "customer"


def test_a_duplicate_email_gets_a_clear_form_error(client, user):
    response = client.post(
        "/accounts/signup/",
        {
            "email": user.email.upper(),
            "password": "a-long-unusual-passphrase",
            "password_confirm": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 200
    assert "An account with this email already exists." in response.content.decode()
    assert User.objects.filter(email__iexact=user.email).count() == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "too short"), ("password123", "too common"), ("48213957201", "entirely numeric")],
)
def test_weak_passwords_are_refused_with_the_reason(client, password, message):
    response = client.post(
        "/accounts/signup/",
        {"email": "weak@example.com", "password": password, "password_confirm": password},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists()


def test_mismatched_passwords_are_refused(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "x@example.com",
            "password": "a-long-unusual-passphrase",
            "password_confirm": "another-long-passphrase",
        },
    )
    assert "The two passwords differ." in response.content.decode()


def test_login_and_logout(client, user, password):
    response = client.post("/accounts/login/", {"username": user.email, "password": password})
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/accounts/").status_code == 302


def test_login_with_a_wrong_password_fails_with_a_message(client, user):
    response = client.post("/accounts/login/", {"username": user.email, "password": "nope"})
    assert response.status_code == 200
    assert (
        "correct email and password" in response.content.decode().replace("\n", " ").lower()
        or "enter a correct" in response.content.decode().lower()
    )


def test_changing_the_password(client, user, password):
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": password,
            "new_password1": "brand-new-passphrase-42",
            "new_password2": "brand-new-passphrase-42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-passphrase-42")


def test_resetting_a_forgotten_password_by_email(client, user):
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/" in line
    )
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirm = client.get("/" + path, follow=True)
    assert confirm.status_code == 200
    set_url = confirm.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "fresh-passphrase-99", "new_password2": "fresh-passphrase-99"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("fresh-passphrase-99")


def test_a_reset_for_an_unknown_email_reveals_nothing_and_sends_nothing(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_repeated_wrong_passwords_lock_that_login_out(client, user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.email, "password": "guess"})

    locked = client.post("/accounts/login/", {"username": user.email, "password": password})

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert client.get("/accounts/").status_code == 302  # not logged in


def test_a_lockout_is_per_email_and_address(client, user, other_user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.email, "password": "guess"})

    other = client.post("/accounts/login/", {"username": other_user.email, "password": password})

    assert other.status_code == 302


def test_password_reset_emails_are_capped_per_hour(client, user, settings, mailoutbox):
    statuses = [
        client.post("/accounts/password/reset/", {"email": user.email}).status_code
        for _ in range(settings.PASSWORD_RESETS_PER_HOUR + 1)
    ]

    assert statuses == [302] * settings.PASSWORD_RESETS_PER_HOUR + [429]
    assert len(mailoutbox) == settings.PASSWORD_RESETS_PER_HOUR
