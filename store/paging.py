"""A paginator that reads a page and the total in one query.

Django's Paginator runs ``COUNT(*)`` and then the page query: for a search, PostgreSQL walks
every match twice. Here the page query carries ``COUNT(*) OVER ()``, computed in the same walk;
a separate count runs only when a page past the end is asked for.
"""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Count, Window


class SinglePassPaginator(Paginator):
    def page(self, number) -> Page:
        """The page, or EmptyPage / PageNotAnInteger like Paginator.page (the API answers 404)."""
        number = self._page_number(number)
        bottom = (number - 1) * self.per_page
        page_query = self.object_list.annotate(total_matches=Window(Count("pk")))
        rows = list(page_query[bottom : bottom + self.per_page])
        if rows:
            self.__dict__["count"] = rows[0].total_matches
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
