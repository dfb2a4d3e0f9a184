"""Helpers of the publishing tests: listings to upload to, uploads made from model folders."""

import io
import tarfile
import zipfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from store.models import Listing
from store.services import listing_create


def draft_listing(publisher, **fields) -> Listing:
    fields.setdefault("name", "Tiny Llama")
    fields.setdefault("summary", "A tiny test model.")
    return listing_create(publisher=publisher, **fields)


def folder_uploads(folder: Path) -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()
    ]


def zip_of(
    folder: Path, *, top: str = "tiny-model", extra: dict[str, bytes] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{top}/{path.name}" if top else path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(
    folder: Path,
    *,
    top: str = "tiny-model",
    mode: str = "w:gz",
    members: list[tarfile.TarInfo] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, f"{top}/{path.name}" if top else path.name)
        for info in members or []:
            archive.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


def upload(
    client, listing: Listing, files: list[SimpleUploadedFile], *, xhr: bool = False, **fields
):
    """Posts the studio's upload form; ``fields`` are its other fields (serving_precision)."""
    headers = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"} if xhr else {}
    return client.post(
        reverse("studio:upload", kwargs={"listing_id": listing.pk}),
        {"files": files, **fields},
        **headers,
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
