"""Forms of the catalog pages: the filter bar, reviews, reports, and a curator's rejection reason."""

from decimal import Decimal, InvalidOperation

from django import forms

from store.licenses import LICENSES
from store.models import Listing, ListingReport, ListingVersion
from store.selectors import SIZE_BUCKETS, SORTS

PAGE_SIZES = (12, 24, 48, 96)


def _blank(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class CatalogFilterForm(forms.Form):
    # No max_length: selectors cut the query, so an overlong one still searches its start.
    q = forms.CharField(required=False, label="Search")
    task = forms.ChoiceField(required=False, choices=_blank("Any task", Listing.Task.choices))
    license = forms.ChoiceField(required=False, choices=_blank("Any licence", LICENSES))
    format = forms.ChoiceField(
        required=False, choices=_blank("Any format", ListingVersion.Format.choices)
    )
    size = forms.ChoiceField(
        required=False,
        choices=_blank("Any size", [(key, b.label) for key, b in SIZE_BUCKETS.items()]),
    )
    price_min = forms.CharField(required=False, max_length=12, label="Min price")
    price_max = forms.CharField(required=False, max_length=12, label="Max price")
    free = forms.BooleanField(required=False, label="Free to use")
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=24,
        initial="24",
        choices=[(str(n), f"{n} per page") for n in PAGE_SIZES],
    )

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("per_page"):
            # So that the page-size menu shows the size actually used.
            data = data.copy()
            data["per_page"] = "24"
        super().__init__(data, *args, **kwargs)

    def _clean_price(self, name: str) -> int | None:
        raw = (self.cleaned_data.get(name) or "").strip().lstrip("$€£").replace(",", ".")
        if not raw:
            return None
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError("Enter an amount such as 5 or 4.99.") from None
        if amount < 0 or amount > 1_000_000:
            raise forms.ValidationError("Enter an amount between 0 and 1,000,000.")
        return int((amount * 100).to_integral_value())

    def clean_price_min(self):
        return self._clean_price("price_min")

    def clean_price_max(self):
        return self._clean_price("price_max")

    def filters(self) -> dict:
        """Keyword arguments for selectors.catalog_listings; an invalid field is simply not applied."""
        data = self.cleaned_data if self.is_bound else {}
        if self.is_bound:
            for name in list(self.errors):
                data.pop(name, None)
        return {
            "q": data.get("q") or "",
            "task": data.get("task") or "",
            "license": data.get("license") or "",
            "source_format": data.get("format") or "",
            "size": data.get("size") or "",
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
            "free": bool(data.get("free")),
            "sort": data.get("sort") or "relevance",
        }

    def page_size(self) -> int:
        if self.is_bound and "per_page" not in self.errors:
            return self.cleaned_data.get("per_page") or 24
        return 24


class ReviewForm(forms.Form):
    stars = forms.TypedChoiceField(
        coerce=int, choices=[(str(n), "★" * n) for n in range(5, 0, -1)], widget=forms.RadioSelect
    )
    text = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=ListingReport.Reason.choices)
    text = forms.CharField(
        max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), label="What is wrong?"
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Reason the publisher will read"
    )
