"""Usage dashboards: a customer's own usage, a publisher's models' usage, nobody else's."""

import pytest

from inference.models import UsageRecord
from inference.selectors import usage_for_publisher, usage_for_user
from tests.support.factories import PublisherFactory
from tests.support.servable import grant_rental, servable_listing

pytestmark = pytest.mark.django_db


def record(user, listing, *, key=None, prompt=10, completion=20, charged=30, source="api"):
    return UsageRecord.objects.create(
        request_id=f"r{UsageRecord.objects.count()}-{user.pk}",
        user=user,
        api_key=key,
        listing=listing,
        source=source,
        access="rental" if charged else "purchase",
        prompt_tokens=prompt,
        completion_tokens=completion,
        charged_tokens=charged,
        finish_reason="stop",
    )


@pytest.fixture
def listing(tiny_model_dirs, publisher):
    return servable_listing(tiny_model_dirs[True], publisher=publisher, slug="storyteller")


def test_usage_is_aggregated_per_day_per_model_and_per_key(
    user, listing, api_key_for, tiny_model_dirs
):
    key, _ = api_key_for(user, name="laptop")
    second = servable_listing(tiny_model_dirs[True], slug="second")
    record(user, listing, key=key)
    record(user, listing, key=key, prompt=5, completion=5, charged=10)
    record(user, second, source="playground", charged=0)

    usage = usage_for_user(user=user)
    by_model = {row["label"]: row for row in usage["by_model"]}
    assert by_model[listing.model_id]["requests"] == 2
    assert by_model[listing.model_id]["tokens"] == 40
    assert by_model[listing.model_id]["charged"] == 40
    assert by_model[second.model_id]["tokens"] == 30
    by_key = {row["label"]: row["requests"] for row in usage["by_key"]}
    assert by_key == {"laptop": 2, "(playground)": 1}
    assert usage["totals"]["requests"] == 3


def test_the_customer_sees_their_usage_and_quota_and_nobody_elses(
    client, user, other_user, listing
):
    grant_rental(user, listing, tokens=777)
    record(user, listing, prompt=111, completion=222, charged=0)
    record(other_user, listing, prompt=5000, completion=5000, charged=0)
    client.force_login(user)
    page = client.get("/usage/").content.decode()
    assert 'data-testid="total-tokens">333<' in page
    assert listing.model_id in page
    assert "777" in page  # remaining quota
    assert "js/usage.js" in page and "chart.umd.min.js" in page

    client.force_login(other_user)
    page = client.get("/usage/").content.decode()
    assert 'data-testid="total-tokens">10,000<' in page
    assert "777" not in page


def test_anonymous_visitors_cannot_see_usage(client):
    assert client.get("/usage/").status_code == 302
    assert client.get("/usage/publisher/").status_code == 302
    assert client.get("/usage/data.json").status_code == 401


def test_the_usage_json_holds_only_the_callers_numbers(client, user, other_user, listing):
    record(user, listing, prompt=1, completion=2)
    record(other_user, listing, prompt=100, completion=200)
    client.force_login(user)
    assert client.get("/usage/data.json").json()["totals"]["requests"] == 1


def test_publishers_see_usage_of_their_own_models_only(
    client, publisher, user, other_user, listing, tiny_model_dirs
):
    foreign = servable_listing(tiny_model_dirs[True], publisher=PublisherFactory(), slug="foreign")
    record(user, listing, prompt=40, completion=2)
    record(other_user, listing, prompt=1, completion=1)
    record(user, foreign, prompt=900, completion=900)

    usage = usage_for_publisher(publisher=publisher)
    assert usage["totals"]["requests"] == 2
    assert usage["totals"]["customers"] == 2

    client.force_login(publisher.user)
    page = client.get("/usage/publisher/").content.decode()
    assert listing.model_id in page
    assert foreign.model_id not in page
    assert user.email not in page  # customers stay anonymous to publishers


def test_customers_who_do_not_publish_get_403_on_the_publisher_page(client, user):
    client.force_login(user)
    assert client.get("/usage/publisher/").status_code == 403


def test_staff_see_the_publisher_page_only_as_publishers(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/usage/publisher/").status_code == 403


def test_the_usage_page_shows_each_keys_monthly_budget_left(client, user, other_user, api_key_for):
    from inference.limits import limits_admit

    key, _ = api_key_for(user, name="ci-runner", monthly_token_budget=1000)
    api_key_for(user, name="unlimited")
    foreign, _ = api_key_for(other_user, name="someone-elses", monthly_token_budget=50)
    limits_admit(api_key=key, tokens=300)
    client.force_login(user)
    page = client.get("/usage/").content.decode()
    budgets = page[page.index('data-testid="key-budgets"') :]
    assert "ci-runner" in budgets and "<td>300</td><td>700</td>" in budgets
    assert "unlimited" not in budgets
    assert "someone-elses" not in page


def spent(user, listing, *, key=None, cost: int):
    """A request paid from credits: ``cost`` in µ¢."""
    made = record(user, listing, key=key, charged=0)
    UsageRecord.objects.filter(pk=made.pk).update(access="credits", cost=cost)
    return made


def test_spend_is_summed_per_day_model_and_key_exactly(user, listing, api_key_for, tiny_model_dirs):
    key, _ = api_key_for(user, name="laptop")
    second = servable_listing(tiny_model_dirs[True], slug="second")
    spent(user, listing, key=key, cost=1_234)
    spent(user, listing, key=key, cost=5_000_000)
    spent(user, second, cost=7)

    usage = usage_for_user(user=user)

    by_model = {row["label"]: row["cost"] for row in usage["by_model"]}
    assert by_model == {listing.model_id: 5_001_234, second.model_id: 7}
    assert {row["label"]: row["cost"] for row in usage["by_key"]} == {
        "laptop": 5_001_234, "(playground)": 7,
    }  # fmt: skip
    assert usage["totals"]["cost"] == 5_001_241


def test_the_usage_page_shows_the_spend_and_exports_it_as_csv(client, user, listing, api_key_for):
    import csv
    import io

    key, _ = api_key_for(user, name="laptop")
    spent(user, listing, key=key, cost=12_500_000)  # $0.125
    spent(user, listing, key=key, cost=1)
    client.force_login(user)

    page = client.get("/usage/").content.decode()
    export = client.get("/usage/export.csv")

    assert "$0.12500001" in page  # every digit that matters, never rounded away
    assert 'id="usage-cost-model"' in page and 'id="usage-cost-key"' in page
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [(r["model"], r["key"], r["paid_with"], r["requests"], r["cost_USD"]) for r in rows] == [
        (listing.model_id, "laptop", "credits", "2", "0.12500001")
    ]


def test_the_csv_holds_only_the_callers_usage(client, user, other_user, listing):
    spent(other_user, listing, cost=99)
    client.force_login(user)
    rows = client.get("/usage/export.csv").content.decode().strip().splitlines()
    assert len(rows) == 1  # the header alone
