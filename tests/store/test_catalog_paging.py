"""One pass over the matches per catalog page: the page's keys come with the total
(COUNT(*) OVER ()), then the page's rows are read by primary key."""

import pytest
from django.core.paginator import EmptyPage, Paginator

from store.paging import SinglePassPaginator, paginator_class_for
from store.selectors import catalog_listings
from tests.support.factories import ListingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven():
    for n in range(7):
        ListingFactory(name=f"Model {n}")
    return catalog_listings(sort="newest")


def test_a_page_and_its_total_take_two_queries(seven, django_assert_num_queries):
    paginator = SinglePassPaginator(seven, 3)
    with django_assert_num_queries(2):
        page = paginator.page(2)
        assert [listing.name for listing in page] == ["Model 3", "Model 2", "Model 1"]
        assert (paginator.count, paginator.num_pages, page.has_next()) == (7, 3, True)


def test_an_empty_result_is_one_empty_first_page(django_assert_num_queries):
    paginator = SinglePassPaginator(catalog_listings(q="nothing"), 3)
    with django_assert_num_queries(1):
        page = paginator.get_page(1)
    assert (list(page), paginator.count, page.has_other_pages()) == ([], 0, False)


def test_past_the_end_page_raises_and_get_page_serves_the_last(seven):
    with pytest.raises(EmptyPage):
        SinglePassPaginator(seven, 3).page(9)
    page = SinglePassPaginator(seven, 3).get_page(9)
    assert (page.number, [listing.name for listing in page]) == (3, ["Model 0"])


@pytest.mark.parametrize("number", ["x", "1.5", None])
def test_a_page_number_that_is_not_a_number_gives_the_first_page(seven, number):
    assert SinglePassPaginator(seven, 3).get_page(number).number == 1


@pytest.mark.parametrize("number", ["0", "-2"])
def test_a_page_number_below_one_gives_the_last_page_as_django_does(seven, number):
    assert SinglePassPaginator(seven, 3).get_page(number).number == 3


def test_the_api_answers_404_past_the_last_page(client, seven):
    response = client.get("/api/catalog/listings/", {"page": 9, "page_size": 3})
    assert response.status_code == 404


def test_only_a_ranked_search_counts_in_the_same_pass():
    assert paginator_class_for(q="coder", sort="relevance") is SinglePassPaginator
    # Browsing reads one page from an index: a window count would read every row instead.
    assert paginator_class_for(q="", sort="relevance") is Paginator
    assert paginator_class_for(q="coder", sort="newest") is Paginator


def test_browsing_the_catalog_counts_apart_and_reads_one_page(
    client, seven, django_assert_num_queries
):
    with django_assert_num_queries(2):
        body = client.get("/catalog/", {"per_page": 12, "sort": "newest"}).content.decode()
    assert "7 models" in body
