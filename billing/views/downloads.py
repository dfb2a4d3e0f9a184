import logging

from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.handlers.asgi import ASGIRequest
from django.db.models import F
from django.http import Http404, HttpResponse, HttpResponseForbidden, StreamingHttpResponse

from billing.downloads import (
    RangeNotSatisfiable,
    byte_range,
    download_token_read,
    file_chunks,
    file_chunks_async,
    weight_file_path,
)
from billing.selectors import has_entitlement
from store.models import WeightFile

log = logging.getLogger(__name__)


def download(request, token: str):
    """Streams a purchased weight file; answers Range requests with 206 so a download resumes.

    Counted once per download (the request that starts at byte 0), not per resumed part.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        user_id, weight_file_id = download_token_read(token)
    except signing.SignatureExpired:
        return HttpResponse(
            "This download link has expired. Open “Your models” for a fresh one.",
            status=410,
            content_type="text/plain",
        )
    except signing.BadSignature:
        raise Http404("No such download.") from None
    if user_id != request.user.pk:
        return HttpResponseForbidden("This download link was made for another account.")
    weight_file = (
        WeightFile.objects.select_related("version__listing").filter(pk=weight_file_id).first()
    )
    if weight_file is None:
        raise Http404("No such file.")
    if not has_entitlement(user=request.user, listing=weight_file.version.listing):
        return HttpResponseForbidden("You no longer own this model.")
    path = weight_file_path(weight_file)
    if path is None:
        log.error("Weight file %s is missing on disk.", weight_file.pk)
        raise Http404("This file is not available.")

    size = path.stat().st_size
    etag = f'"{weight_file.sha256}"'
    if_range = request.headers.get("If-Range")
    try:
        # A stale If-Range (the file changed) means: send all of it again.
        wanted = (
            byte_range(request.headers.get("Range"), size) if if_range in (None, etag) else None
        )
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1 if size else 0
    if start == 0:
        WeightFile.objects.filter(pk=weight_file.pk).update(download_count=F("download_count") + 1)

    # Served by the ASGI server in production: stream asynchronously there (see
    # file_chunks_async); WSGI and the test client take the plain iterator.
    chunks = file_chunks_async if isinstance(request, ASGIRequest) else file_chunks
    response = StreamingHttpResponse(
        chunks(path, start=start, length=length),
        status=206 if wanted else 200,
        content_type="application/octet-stream",
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Content-Disposition"] = f'attachment; filename="{path.name}"'
    response["Cache-Control"] = "private, no-store"
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
