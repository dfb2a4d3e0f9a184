"""Signed, expiring download links and byte ranges for purchased weights.

A link names the customer and the file and is signed with TimestampSigner: it cannot be
altered, it stops working after LINK_MAX_AGE, and the view also checks that the person
following it is the customer it was made for and still owns the model.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.db.models import F

from billing.selectors import has_entitlement
from config.api_errors import ApplicationError
from store.models import WeightFile
from store.policies import version_is_live

SALT = "billing.download"
LINK_MAX_AGE = 60 * 60  # seconds; long enough for a multi-GB download to be resumed
CHUNK_BYTES = 256 * 1024

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    pass


def download_token_make(*, user_id: int, weight_file_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"u": user_id, "f": weight_file_id})


def download_token_read(token: str, *, max_age: int = LINK_MAX_AGE) -> tuple[int, int]:
    """(user_id, weight_file_id); raises signing.SignatureExpired or signing.BadSignature."""
    data = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age)
    return int(data["u"]), int(data["f"])


def download_authorize(*, token: str, user):
    """The WeightFile a link opens for ``user``, or ApplicationError: 410 expired link, 404
    altered link or missing file, 403 a link made for someone else or a model no longer owned."""
    try:
        user_id, weight_file_id = download_token_read(token)
    except signing.SignatureExpired:
        raise ApplicationError(
            "This download link has expired. Open “Your models” for a fresh one.",
            status=410,
            code="link_expired",
        ) from None
    except signing.BadSignature:
        raise ApplicationError("No such download.", status=404, code="not_found") from None
    if user_id != user.pk:
        raise ApplicationError(
            "This download link was made for another account.", status=403, code="forbidden"
        )
    weight_file = (
        WeightFile.objects.select_related("version__listing").filter(pk=weight_file_id).first()
    )
    if weight_file is None or not version_is_live(weight_file.version):
        raise ApplicationError("No such file.", status=404, code="not_found")
    if not has_entitlement(user=user, listing=weight_file.version.listing):
        raise ApplicationError("You no longer own this model.", status=403, code="forbidden")
    return weight_file


def download_count(*, weight_file) -> None:
    """Counts one download of the file (atomically: concurrent downloads all count)."""
    type(weight_file).objects.filter(pk=weight_file.pk).update(
        download_count=F("download_count") + 1
    )


def weight_file_path(weight_file) -> Path | None:
    """The file on disk, or None when it is missing or would leave MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / weight_file.version.storage_path / weight_file.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Parses a single ``Range: bytes=a-b`` header into an inclusive (start, end).

    None means "send the whole file" (no header, or a form we do not serve such as
    several ranges: a full answer is always allowed). RangeNotSatisfiable → 416.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def file_chunks(path: Path, *, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


async def file_chunks_async(path: Path, *, start: int, length: int) -> AsyncIterator[bytes]:
    """The same chunks for an ASGI server. Django would turn a sync iterator into a list
    under ASGI (the whole file in memory); reads run in a thread, one chunk at a time."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
