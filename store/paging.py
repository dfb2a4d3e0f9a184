"""A paginator that reads a page's keys and the total in one pass over the matches.

Django's Paginator runs ``COUNT(*)`` and then the page query: for a search, PostgreSQL walks
every match twice. Here the walk over the matches selects only the primary key and
``COUNT(*) OVER ()`` (narrow rows: no join, nothing wide carried to the sort, no spill of the
window to disk); the page's full rows are then read by primary key, a second query that touches
only the page. Past the end, a separate count runs.
"""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, Window


class SinglePassPaginator(Paginator):
    def page(self, number) -> Page:
        """The page, or EmptyPage / PageNotAnInteger like Paginator.page (the API answers 404)."""
        number = self._page_number(number)
        bottom = (number - 1) * self.per_page
        keys_query = self.object_list.annotate(total_matches=Window(Count("pk")))
        keys = list(keys_query.values_list("pk", "total_matches")[bottom : bottom + self.per_page])
        rows = []
        if keys:
            self.__dict__["count"] = keys[0][1]
            by_pk = self.object_list.in_bulk([pk for pk, _ in keys])
            # A listing hidden between the two queries is left out rather than shown.
            rows = [by_pk[pk] for pk, _ in keys if pk in by_pk]
        elif number == 1:
            self.__dict__["count"] = 0
        else:
            raise EmptyPage("That page contains no results")
        return self._get_page(rows, number, self)

    def get_page(self, number) -> Page:
        """Like Paginator.get_page: a bad number gives the first page, one past the end the last."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(max(1, self.num_pages))

    @staticmethod
    def _page_number(number) -> int:
        if isinstance(number, float) and not number.is_integer():
            raise PageNotAnInteger("That page number is not an integer")
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number


def paginator_class_for(*, q: str, sort: str) -> type[Paginator]:
    """Ranking a search reads every match anyway, so its total comes in the same pass. Browsing
    in an indexed order stops after one page; there a window count would read every row, so
    the total is counted apart (an index-only scan of the sort's partial index)."""
    if q and sort == "relevance":
        return SinglePassPaginator
    return Paginator
