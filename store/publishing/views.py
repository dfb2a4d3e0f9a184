"""Publisher studio: a publisher's listings, their details, uploads and processing progress.

Access: anonymous → login; signed-in non-publishers → the publisher application; a listing
that is not yours → 404 (staff may open any).
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from config.html_refusals import REFUSED, act, act_on_form
from store import services as store_services
from store.models import Listing
from store.publishing import selectors
from store.publishing.forms import ListingForm, UploadForm
from store.publishing.services import version_create
from store.publishing.upload_limits import install_size_limit


def publisher_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_publisher or request.user.is_staff):
            messages.info(request, "Apply to become a publisher to list models in the store.")
            return redirect("accounts:publisher_apply")
        return view(request, *args, **kwargs)

    return wrapper


def _listing_or_404(request, listing_id: int) -> Listing:
    listing = selectors.studio_listing_for(user=request.user, listing_id=listing_id)
    if listing is None:
        raise Http404("No such listing in your studio.")
    return listing


@publisher_required
def studio_home(request):
    return render(
        request,
        "store/studio/home.html",
        {"listings": selectors.studio_listings_of(user=request.user)},
    )


@publisher_required
def listing_new(request):
    if request.user.publisher is None:
        messages.info(
            request,
            "Only a publisher can create listings; staff can open any listing's studio page.",
        )
        return redirect("accounts:publisher_apply")
    form = ListingForm(
        request.POST or None, initial={"license": "apache-2.0", "task": Listing.Task.CHAT}
    )
    if request.method == "POST" and form.is_valid():
        listing = act_on_form(
            form,
            lambda: store_services.listing_create(
                publisher=request.user.publisher,
                slug=form.cleaned_data["slug"],
                **form.service_fields(),
            ),
        )
        if listing is not REFUSED:
            messages.success(request, "Listing created as a draft. Upload its weights next.")
            return redirect("studio:upload", listing_id=listing.pk)
    return render(request, "store/studio/listing_form.html", {"form": form, "listing": None})


@publisher_required
def listing_edit(request, listing_id: int):
    listing = _listing_or_404(request, listing_id)
    form = ListingForm(request.POST or None, initial=ListingForm.initial_for(listing), editing=True)
    if request.method == "POST" and form.is_valid():
        saved = act_on_form(
            form, lambda: store_services.listing_update(listing=listing, **form.service_fields())
        )
        if saved is not REFUSED:
            messages.success(request, "Listing saved.")
            return redirect("studio:listing", listing_id=listing.pk)
    return render(request, "store/studio/listing_form.html", {"form": form, "listing": listing})


@publisher_required
def listing_detail(request, listing_id: int):
    listing = _listing_or_404(request, listing_id)
    versions = selectors.studio_versions(listing=listing)
    can_submit = store_services.listing_can_submit(listing=listing, versions=versions)
    return render(
        request,
        "store/studio/listing.html",
        {
            "listing": listing,
            "versions": versions,
            "usage_days": selectors.USAGE_DAYS,
            "can_submit": can_submit,
            "changes": listing.status_changes.all(),
        },
    )


# The publisher's own moves of a listing along its lifecycle: to review, and back to draft.
LISTING_MOVES = {
    "pending": "Submitted for review. Staff will approve it or tell you what to fix.",
    "draft": "Withdrawn from review: the listing is a draft again.",
}


def _listing_move(request, listing_id: int, to_status: str):
    listing = _listing_or_404(request, listing_id)
    act(
        request,
        lambda: store_services.listing_transition(
            listing_id=listing.pk, to_status=to_status, actor=request.user
        ),
        success=LISTING_MOVES[to_status],
    )
    return redirect("studio:listing", listing_id=listing.pk)


@require_POST
@publisher_required
def listing_submit(request, listing_id: int):
    return _listing_move(request, listing_id, "pending")


@require_POST
@publisher_required
def listing_withdraw(request, listing_id: int):
    return _listing_move(request, listing_id, "draft")


@csrf_exempt
@publisher_required
def version_upload(request, listing_id: int):
    # The size limit must be in place before anything reads the body, hence CSRF is checked
    # (by _version_upload) only after the handler is installed.
    if request.method == "POST":
        install_size_limit(request)
    return _version_upload(request, listing_id)


@csrf_protect
def _version_upload(request, listing_id: int):
    listing = _listing_or_404(request, listing_id)
    wants_json = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    form = UploadForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST":
        if getattr(request, "upload_too_large", False):
            form = UploadForm()
            errors = [
                f"The upload is over the size limit of {filesizeformat(settings.UPLOAD_MAX_BYTES)}; nothing was stored."
            ]
        else:
            version = REFUSED
            if form.is_valid():
                version = act_on_form(
                    form,
                    lambda: version_create(
                        listing=listing,
                        created_by=request.user,
                        files=form.cleaned_data["files"],
                        serving_precision=form.cleaned_data["serving_precision"],
                    ),
                )
            if version is not REFUSED:
                url = (
                    reverse("studio:listing", kwargs={"listing_id": listing.pk})
                    + f"#version-{version.number}"
                )
                if wants_json:
                    return JsonResponse({"version": version.number, "redirect": url}, status=201)
                messages.success(
                    request, f"Version {version.number} uploaded; processing has started."
                )
                return redirect(url)
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        if wants_json:
            return JsonResponse({"errors": errors or ["The upload was refused."]}, status=400)
    return render(
        request,
        "store/studio/upload.html",
        {
            "listing": listing,
            "form": form,
            "errors": errors,
            "limit_bytes": settings.UPLOAD_MAX_BYTES,
        },
        status=400 if request.method == "POST" else 200,
    )


@publisher_required
def version_progress(request, version_id: int):
    version = selectors.studio_version_for(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such version in your studio.")
    return JsonResponse(
        {
            "version": version.number,
            "status": version.status,
            "progress": version.progress,
            "message": version.progress_message,
            "error": version.error_message,
        }
    )
