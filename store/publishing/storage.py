"""Where uploads and processed versions live, relative to MEDIA_ROOT.

    uploads/<version_id>/            the upload as received (staging), removed after processing
    models/<listing_id>/v<number>/   the processed, loadable model folder (ListingVersion.storage_path)

A version is built in a hidden sibling folder and renamed into place at the end, so a reader
never sees a half-written model folder.
"""

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File

from store.publishing.validation import ArchiveMember, UploadRefused, common_folder

COPY_CHUNK = 1024 * 1024


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def staging_dir(version_id: int) -> Path:
    return media_root() / "uploads" / str(version_id)


def version_relative_dir(listing_id: int, number: int) -> str:
    return f"models/{listing_id}/v{number}"


def build_dir(listing_id: int, number: int) -> Path:
    return media_root() / "models" / str(listing_id) / f".v{number}-building"


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def store_upload(upload: File, destination: Path) -> int:
    """Moves (or streams) one uploaded file into place; returns its size.

    A TemporaryUploadedFile is already on disk: it is moved, not copied. Small uploads held
    in memory, and plain Files (seed_demo), are copied chunk by chunk.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary_path = getattr(upload, "temporary_file_path", None)
    if temporary_path is not None:
        shutil.move(temporary_path(), destination)
        # The upload object would otherwise try to delete a file that is no longer there.
        try:
            upload.file.close()
        except (OSError, FileNotFoundError):
            pass
    else:
        with open(destination, "wb") as out:
            for chunk in upload.chunks(COPY_CHUNK):
                out.write(chunk)
    return destination.stat().st_size


def _copy_at_most(src, dst, member: ArchiveMember) -> None:
    """Copies a member, stopping with a refusal past the size its listing declared (the
    listing is what the size and expansion checks read; the bytes must not say more)."""
    written = 0
    while chunk := src.read(COPY_CHUNK):
        written += len(chunk)
        if written > member.size:
            raise UploadRefused(
                f"{member.name} holds more bytes than the archive's listing declares; refused."
            )
        dst.write(chunk)


def extract_archive(archive_path: Path, members: list[ArchiveMember], target: Path) -> None:
    """Extracts the regular files listed (already checked) flat into target.

    Each member is written by name under target, never through the archive's own extract
    (which would honour links and modes); the single top folder, if any, is dropped.
    """
    target.mkdir(parents=True, exist_ok=True)
    prefix = common_folder([m.name for m in members])
    wanted = {m.name: m for m in members}

    def out_path(name: str) -> Path:
        relative = PurePosixPath(name).relative_to(prefix) if prefix else PurePosixPath(name)
        path = (target / relative.name).resolve()
        if path.parent != target.resolve():
            raise UploadRefused(f"The archive holds a path escaping its folder ({name}); refused.")
        return path

    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                if info.filename not in wanted:
                    continue
                with archive.open(info) as src, open(out_path(info.filename), "wb") as dst:
                    _copy_at_most(src, dst, wanted[info.filename])
        return
    with tarfile.open(archive_path, mode="r:*") as archive:
        for info in archive:
            if info.name not in wanted or not info.isfile():
                continue
            src = archive.extractfile(info)
            if src is None:
                continue
            with src, open(out_path(info.name), "wb") as dst:
                _copy_at_most(src, dst, wanted[info.name])
