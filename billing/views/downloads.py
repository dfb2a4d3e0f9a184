import logging

from django.contrib.auth.views import redirect_to_login
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse, StreamingHttpResponse

from billing.downloads import (
    RangeNotSatisfiable,
    byte_range,
    download_authorize,
    download_count,
    file_chunks,
    file_chunks_async,
    weight_file_path,
)
from config.api_errors import ApplicationError

log = logging.getLogger(__name__)


def download(request, token: str):
    """Streams a purchased weight file; answers Range requests with 206 so a download resumes.

    Counted once per download (the request that starts at byte 0), not per resumed part.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        weight_file = download_authorize(token=token, user=request.user)
    except ApplicationError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
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
        download_count(weight_file=weight_file)

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
