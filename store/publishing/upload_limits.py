"""An upload handler that stops reading a request body once it passes settings.UPLOAD_MAX_BYTES.

It runs first in request.upload_handlers, so it sees every chunk before the handlers that write
it to disk; stopping there means at most one chunk past the limit is ever written, and Django
closes (and so deletes) the temporary files already opened.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class UploadTooLarge(StopUpload):
    pass


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, request=None, *, limit: int | None = None):
        super().__init__(request)
        self.limit = limit if limit is not None else settings.UPLOAD_MAX_BYTES
        self.received = 0

    def _refuse(self):
        if self.request is not None:
            self.request.upload_too_large = True
        raise StopUpload(connection_reset=False)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # A declared body far past the limit is refused at its first file, before a byte is
        # written; the running count still applies, as Content-Length can be missing or wrong.
        # (StopUpload is only caught once parsing has begun, hence not raised here.)
        self.declared_too_large = bool(content_length and content_length > self.limit + 1024 * 1024)
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if getattr(self, "declared_too_large", False):
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None


def install_size_limit(request, *, limit: int | None = None) -> None:
    """Puts the limit in front of Django's handlers; call before request.POST/FILES is read."""
    request.upload_too_large = False
    request.upload_handlers.insert(0, SizeLimitUploadHandler(request, limit=limit))
