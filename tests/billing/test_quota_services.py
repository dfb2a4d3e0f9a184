from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import QuotaHold, QuotaLedgerEntry, QuotaPack
from billing.selectors import access_for, customer_can_review
from billing.services import (
    holds_release_stale,
    quota_hold,
    quota_packs_expire,
    quota_release,
    quota_settle,
)
from config.api_errors import ApplicationError
from tests.billing.ledger import assert_ledger_matches, kinds

pytestmark = pytest.mark.django_db


def test_a_rental_grant_credits_a_pack_through_the_ledger(user, listing, rent):
    pack = rent(user, listing, tokens=1000, days=7)
    assert kinds(pack) == [("credit", 1000, 0)]
    assert QuotaLedgerEntry.objects.get(pack=pack).reason == "grant"
    assert access_for(user=user, listing=listing).kind == "rental"
    assert access_for(user=user, listing=listing).available_tokens == 1000
    assert_ledger_matches(pack)


def test_a_hold_then_settle_debits_what_was_used_and_releases_the_rest(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=300, request_id="req-1")
    assert access_for(user=user, listing=listing).available_tokens == 700

    quota_settle(request_id="req-1", used_tokens=120)

    assert access_for(user=user, listing=listing).available_tokens == 880
    assert kinds(pack)[1:] == [("hold", -300, 300), ("debit", 0, -120), ("release", 180, -180)]
    hold = QuotaHold.objects.get(request_id="req-1")
    assert (hold.status, hold.used_tokens) == ("settled", 120)
    assert_ledger_matches(pack)


def test_settling_twice_changes_nothing_the_second_time(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=300, request_id="req-1")
    quota_settle(request_id="req-1", used_tokens=100)
    rows = QuotaLedgerEntry.objects.count()

    quota_settle(request_id="req-1", used_tokens=300)
    quota_release(request_id="req-1")

    assert QuotaLedgerEntry.objects.count() == rows
    assert access_for(user=user, listing=listing).available_tokens == 900
    assert_ledger_matches(pack)


def test_usage_above_the_hold_is_debited_only_up_to_the_hold(user, listing, rent):
    rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=50, request_id="req-1")
    quota_settle(request_id="req-1", used_tokens=5000)
    assert access_for(user=user, listing=listing).available_tokens == 950


def test_a_release_gives_everything_back_once(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=400, request_id="req-1")
    quota_release(request_id="req-1")
    quota_release(request_id="req-1")
    assert access_for(user=user, listing=listing).available_tokens == 1000
    assert kinds(pack)[1:] == [("hold", -400, 400), ("release", 400, -400)]


def test_a_hold_beyond_the_balance_is_refused_with_402(user, listing, rent):
    rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=900, request_id="req-1")
    with pytest.raises(ApplicationError) as refused:
        quota_hold(user=user, listing=listing, tokens=101, request_id="req-2")
    assert (refused.value.code, refused.value.status) == ("insufficient_quota", 402)
    assert not QuotaHold.objects.filter(request_id="req-2").exists()


def test_a_customer_without_a_pack_cannot_hold(user, other_user, listing, rent):
    rent(other_user, listing, tokens=1000)
    with pytest.raises(ApplicationError) as refused:
        quota_hold(user=user, listing=listing, tokens=1, request_id="req-1")
    assert refused.value.status == 402
    assert access_for(user=user, listing=listing).kind is None


def test_a_reused_request_id_is_refused(user, listing, rent):
    rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=10, request_id="req-1")
    with pytest.raises(ApplicationError) as refused:
        quota_hold(user=user, listing=listing, tokens=10, request_id="req-1")
    assert refused.value.code == "duplicate_request"
    assert access_for(user=user, listing=listing).available_tokens == 990


def test_holds_draw_from_the_pack_that_expires_first_and_span_packs(user, listing, rent):
    late = rent(user, listing, tokens=1000, days=30)
    early = rent(user, listing, tokens=1000, days=2)
    quota_hold(user=user, listing=listing, tokens=1200, request_id="req-1")
    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.available, early.held, late.available, late.held) == (0, 1000, 800, 200)

    quota_settle(request_id="req-1", used_tokens=1100)

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.available, early.held, late.available, late.held) == (0, 0, 900, 0)
    assert_ledger_matches(early)
    assert_ledger_matches(late)


def test_expired_packs_stop_counting_and_are_written_off(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    QuotaPack.objects.filter(pk=pack.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert access_for(user=user, listing=listing).kind is None

    assert quota_packs_expire() == 1
    assert quota_packs_expire() == 0

    assert kinds(pack) == [("credit", 1000, 0), ("expire", -1000, 0)]
    assert_ledger_matches(pack)


def test_tokens_released_after_expiry_are_written_off_at_once(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=300, request_id="req-1")
    QuotaPack.objects.filter(pk=pack.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    quota_packs_expire()

    quota_settle(request_id="req-1", used_tokens=100)

    pack.refresh_from_db()
    assert (pack.available, pack.held) == (0, 0)
    assert kinds(pack)[-3:] == [("debit", 0, -100), ("release", 200, -200), ("expire", -200, 0)]
    assert_ledger_matches(pack)


def test_stale_holds_are_released_and_fresh_ones_kept(user, listing, rent):
    rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=100, request_id="old")
    quota_hold(user=user, listing=listing, tokens=100, request_id="new")
    QuotaHold.objects.filter(request_id="old").update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    assert holds_release_stale(older_than_seconds=900) == 1

    assert QuotaHold.objects.get(request_id="old").status == "released"
    assert QuotaHold.objects.get(request_id="new").status == "held"
    assert access_for(user=user, listing=listing).available_tokens == 900


def test_only_customers_who_used_their_rental_can_review(user, other_user, listing, rent):
    rent(user, listing, tokens=1000)
    rent(other_user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=100, request_id="req-1")
    quota_settle(request_id="req-1", used_tokens=10)
    quota_hold(user=other_user, listing=listing, tokens=100, request_id="req-2")
    quota_release(request_id="req-2")

    assert customer_can_review(user=user, listing=listing) is True
    assert customer_can_review(user=other_user, listing=listing) is False


def test_ledger_rows_cannot_be_edited_or_deleted(user, listing, rent):
    pack = rent(user, listing, tokens=1000)
    entry = QuotaLedgerEntry.objects.get(pack=pack)
    entry.available_delta = 5
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_the_publisher_uses_their_own_model_without_buying_it(publisher, other_user, listing):
    assert access_for(user=publisher.user, listing=listing).kind == "purchase"
    assert access_for(user=other_user, listing=listing).kind is None
    assert customer_can_review(user=publisher.user, listing=listing) is False


def test_the_database_refuses_to_rewrite_ledger_rows(user, listing, rent):
    from django.db import DatabaseError, transaction

    pack = rent(user, listing, tokens=1000)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        QuotaLedgerEntry.objects.filter(pack=pack).update(available_delta=10**6)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        QuotaLedgerEntry.objects.filter(pack=pack).delete()
    assert QuotaLedgerEntry.objects.get(pack=pack).available_delta == 1000


def test_the_audit_command_finds_a_pack_that_disagrees_with_its_ledger(user, listing, rent):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    pack = rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=100, request_id="r1")
    out = io.StringIO()
    call_command("billing_audit", stdout=out)
    assert "agrees" in out.getvalue()

    QuotaPack.objects.filter(pk=pack.pk).update(available=5000)  # a bug writing outside the ledger
    with pytest.raises(CommandError, match="1 quota pack"):
        call_command("billing_audit", stdout=io.StringIO(), stderr=io.StringIO())
