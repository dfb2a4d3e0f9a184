"""Catalog pages: home, catalog, listing and publisher pages, reviews, reports, the curator page.

Views parse input, call one selector or service, and render. Rules live in store/services.py
and store/selectors.py.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.api_errors import ApplicationError
from config.html_refusals import act
from store import policies, selectors, services
from store.forms import CatalogFilterForm, RejectForm, ReportForm, ReviewForm
from store.markdown import render_markdown
from store.models import Listing, ListingReport, ListingVersion, Review
from store.paging import paginator_class_for


def home(request):
    return render(
        request,
        "store/home.html",
        {
            "featured": selectors.featured_listings(),
            "collections": selectors.home_collections(),
            "trending": selectors.trending_listings(),
            "newest": selectors.newest_listings(),
        },
    )


def catalog(request):
    form = CatalogFilterForm(request.GET or None)
    form.is_valid()
    filters = form.filters()
    paginator_class = paginator_class_for(q=filters["q"], sort=filters["sort"])
    paginator = paginator_class(selectors.catalog_listings(**filters), form.page_size())
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "store/catalog.html",
        {
            "form": form,
            "page": page,
            "query": filters["q"],
        },
    )


def _listing_or_404(request, publisher_slug: str, listing_slug: str) -> Listing:
    listing = selectors.listing_for_viewer(
        publisher_slug=publisher_slug, slug=listing_slug, user=request.user
    )
    if listing is None:
        raise Http404("No such model.")
    return listing


def listing_detail(request, publisher_slug: str, listing_slug: str):
    listing = selectors.listing_for_viewer(
        publisher_slug=publisher_slug, slug=listing_slug, user=request.user
    )
    if listing is None:
        moved = selectors.publisher_slug_now(publisher_slug)  # a publisher's slug before a rename
        if moved:
            return redirect("listing_detail", moved, listing_slug, permanent=True)
        raise Http404("No such model.")
    user = request.user
    is_owner = user.is_authenticated and listing.publisher.user_id == user.pk
    own_review = selectors.review_by(user=user, listing=listing)
    can_review = own_review is None and selectors.user_can_review(user=user, listing=listing)
    return render(
        request,
        "store/listing_detail.html",
        {
            "listing": listing,
            "card_html": render_markdown(listing.card_markdown),
            "versions": selectors.listing_versions_for_viewer(listing=listing, user=user),
            "reviews": selectors.listing_reviews(listing=listing),
            "derived": selectors.derived_listings(listing=listing),
            "own_review": own_review,
            "can_review": can_review,
            "review_form": ReviewForm(
                initial={"stars": own_review.stars, "text": own_review.text} if own_review else None
            ),
            "report_form": ReportForm(),
            "is_owner": is_owner,
            "show_history": is_owner or user.is_staff,
            "status_changes": listing.status_changes.select_related("actor")[:20]
            if (is_owner or user.is_staff)
            else [],
        },
    )


def _back_to(listing: Listing, anchor: str = ""):
    return redirect(listing.get_absolute_url() + anchor)


@login_required
@require_POST
def review_save(request, publisher_slug: str, listing_slug: str):
    listing = _listing_or_404(request, publisher_slug, listing_slug)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give between 1 and 5 stars.")
        return _back_to(listing, "#reviews")
    existing = selectors.review_by(user=request.user, listing=listing)
    if existing is None:
        act(
            request,
            lambda: services.review_create(
                listing=listing, author=request.user, **form.cleaned_data
            ),
            success="Thanks, your review is published.",
        )
    else:
        act(
            request,
            lambda: services.review_update(
                review_id=existing.pk, author=request.user, **form.cleaned_data
            ),
            success="Your review is updated.",
        )
    return _back_to(listing, "#reviews")


@login_required
@require_POST
def review_delete(request, review_id: int):
    review = get_object_or_404(Review.objects.select_related("listing__publisher"), pk=review_id)
    act(
        request,
        lambda: services.review_delete(review_id=review.pk, actor=request.user),
        success="The review is deleted.",
        forbidden_page=True,
    )
    return _back_to(review.listing, "#reviews")


@login_required
@require_POST
def report_create(request, publisher_slug: str, listing_slug: str):
    listing = _listing_or_404(request, publisher_slug, listing_slug)
    form = ReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a reason and tell us what is wrong.")
        return _back_to(listing, "#report")
    act(
        request,
        lambda: services.report_create(listing=listing, reporter=request.user, **form.cleaned_data),
        success="Thanks, staff will look at your report.",
    )
    return _back_to(listing, "#report")


def publisher_detail(request, slug: str):
    publisher = selectors.publisher_public(slug=slug)
    if publisher is None:
        moved = selectors.publisher_slug_now(slug)
        if moved:
            return redirect("publisher_detail", moved, permanent=True)
        raise Http404("No such publisher.")
    listings = selectors.catalog_listings(publisher=publisher, sort="newest")
    return render(
        request, "store/publisher_detail.html", {"publisher": publisher, "listings": listings[:100]}
    )


# --- curation (staff) -------------------------------------------------------------------


def staff_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not policies.may_open_curation(request.user):
            raise PermissionDenied("Curators only.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
def curate(request):
    return render(
        request,
        "store/curate.html",
        {
            "queue": selectors.review_queue(),
            "new_versions": selectors.versions_awaiting_review(),
            "reports": selectors.open_reports(),
            "reject_form": RejectForm(),
        },
    )


CURATOR_ACTIONS = {
    "approve": "approved",
    "reject": "rejected",
    "delist": "delisted",
}


@staff_required
@require_POST
def curate_listing(request, listing_id: int):
    listing = get_object_or_404(Listing, pk=listing_id)
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "")

    def decide():
        if action in CURATOR_ACTIONS:
            return services.listing_transition(
                listing_id=listing.pk,
                to_status=CURATOR_ACTIONS[action],
                actor=request.user,
                reason=reason,
            )
        if action in {"feature", "unfeature"}:
            return services.listing_set_featured(
                listing_id=listing.pk, featured=action == "feature", actor=request.user
            )
        raise ApplicationError("Unknown action.")

    act(request, decide, success=f"{listing.name}: {action} done.")
    return redirect("curate")


@staff_required
@require_POST
def curate_version(request, version_id: int):
    version = get_object_or_404(ListingVersion, pk=version_id)
    action = request.POST.get("action", "")

    def decide():
        if action not in {"approve", "reject"}:
            raise ApplicationError("Unknown action.")
        return services.version_review(
            version_id=version.pk,
            approve=action == "approve",
            actor=request.user,
            reason=request.POST.get("reason", ""),
        )

    act(
        request,
        decide,
        success=lambda done: f"{done.listing.model_id} version {done.number}: {done.review}.",
    )
    return redirect("curate")


@staff_required
@require_POST
def curate_report(request, report_id: int):
    report = get_object_or_404(ListingReport, pk=report_id)
    status = {
        "resolve": ListingReport.Status.RESOLVED,
        "dismiss": ListingReport.Status.DISMISSED,
    }.get(request.POST.get("action", ""))

    def close():
        if status is None:
            raise ApplicationError("Unknown action.")
        return services.report_close(
            report_id=report.pk,
            actor=request.user,
            status=status,
            note=request.POST.get("note", ""),
        )

    act(request, close, success=f"Report on {report.listing.name} {status}.")
    return redirect("curate")
