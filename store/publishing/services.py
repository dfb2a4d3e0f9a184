"""Publishing writes: a version is created from an upload, then processed into a ready model folder.

Invariants:
- A version's number is unique per listing and allocated under a row lock on the listing.
- Processing runs at most once per version: it claims the row with a conditional UPDATE
  (uploaded → processing), so a redelivered task or a second worker does nothing.
- A refused or failed version leaves nothing on disk: staging and partial folders are removed.
- A ready version is immutable (see ListingVersion/WeightFile guards); new weights make a new version.
"""

import logging
import os
import stat
import time
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from config.api_errors import ApplicationError
from config.celery import app as celery_app
from store.models import Listing, ListingVersion, WeightFile
from store.publishing import storage
from store.publishing.checksum import sha256_file
from store.publishing.conversion import gguf_to_safetensors
from store.publishing.metadata import read_metadata
from store.publishing.safetensors_header import check_safetensors
from store.publishing.smoke_test import smoke_test
from store.publishing.validation import (
    IGNORED_NAMES,
    UploadRefused,
    check_archive,
    check_folder_complete,
    check_folder_name,
    check_parameter_count,
    plan_upload,
    upload_basename,
)

logger = logging.getLogger(__name__)
V = ListingVersion.Status
MAX_ATTEMPTS = 2
# Sent by name: store/tasks.py imports this module, not the reverse.
VERSION_PROCESS_TASK = "store.version_process"


def _can_publish(listing: Listing, user: User | None) -> bool:
    return user is not None and (user.is_staff or listing.publisher.user_id == user.pk)


def version_create(
    *,
    listing: Listing,
    created_by: User | None,
    files: list[File],
    serving_precision: str = ListingVersion.Precision.FLOAT32,
    enqueue: bool = True,
) -> ListingVersion:
    """Stores an upload as a new version (status uploaded) and queues its processing.

    Everything checkable from names, sizes and an archive's listing is refused here, before
    the row is committed; on refusal the staged files are removed. ``serving_precision`` is
    how the workers will hold its weights; like the weights, it never changes afterwards.
    """
    if created_by is not None and not _can_publish(listing, created_by):
        raise ApplicationError(
            "Only the listing's publisher can upload versions.", status=403, code="forbidden"
        )
    if serving_precision not in ListingVersion.Precision.values:
        raise ApplicationError(
            f"Serving precision must be one of {', '.join(ListingVersion.Precision.values)}.",
            status=400,
            code="invalid_precision",
        )
    plan = plan_upload([(f.name, f.size) for f in files])
    with transaction.atomic():
        # The lock serialises number allocation between two uploads to the same listing.
        Listing.objects.select_for_update().filter(pk=listing.pk).first()
        number = (
            ListingVersion.objects.filter(listing=listing).aggregate(n=Max("number"))["n"] or 0
        ) + 1
        version = ListingVersion.objects.create(
            listing=listing,
            number=number,
            source_format=plan.source_format,
            status=V.UPLOADED,
            progress=0,
            progress_message="Waiting for a worker to process the upload",
            created_by=created_by,
            serving_precision=serving_precision,
            size_bytes=plan.total_bytes,
            processing_report={
                "upload": {"kind": plan.kind, "files": list(plan.names), "bytes": plan.total_bytes}
            },
        )
        staging = storage.staging_dir(version.pk)
        storage.remove_tree(staging)  # a leftover of a database recreated since would mix in
        try:
            for upload in files:
                name = upload_basename(upload.name)
                if name in IGNORED_NAMES:
                    continue  # .gitattributes and the like, from a picked folder
                storage.store_upload(upload, staging / name)
            if plan.kind == "archive":
                check_archive(staging / plan.names[0])
        except BaseException:
            storage.remove_tree(staging)
            raise
        if enqueue:
            transaction.on_commit(
                lambda: celery_app.send_task(
                    VERSION_PROCESS_TASK, args=[version.pk], queue="default"
                )
            )
    return version


def _progress(version_id: int, percent: int, message: str) -> None:
    # A plain UPDATE outside any transaction: the studio page polls it while we work.
    ListingVersion.objects.filter(pk=version_id).update(
        progress=percent, progress_message=message[:200]
    )


def _freeze(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def version_process(*, version_id: int, resume: bool = False) -> ListingVersion:
    """Checks, converts, describes and smoke-tests an uploaded version; ready or failed at the end.

    resume=True also takes a version left "processing" by a worker that died (the broker
    redelivers its message); only a redelivered task passes it, so two live workers never
    process one version.
    """
    claimable = [V.UPLOADED, V.PROCESSING] if resume else [V.UPLOADED]
    claimed = ListingVersion.objects.filter(pk=version_id, status__in=claimable).update(
        status=V.PROCESSING, progress=2, progress_message="Checking the files"
    )
    version = ListingVersion.objects.select_related("listing").get(pk=version_id)
    if not claimed:
        return version
    staging = storage.staging_dir(version.pk)
    build = storage.build_dir(version.listing_id, version.number)
    final_relative = storage.version_relative_dir(version.listing_id, version.number)
    final = storage.media_root() / final_relative
    report = dict(version.processing_report or {})
    report["attempts"] = report.get("attempts", 0) + 1
    # Stored at once: if this worker dies, the next attempt must know it followed one.
    ListingVersion.objects.filter(pk=version.pk).update(processing_report=report)
    timings: dict[str, float] = {}
    started = time.monotonic()
    try:
        storage.remove_tree(build)
        if report["attempts"] > MAX_ATTEMPTS:
            # The worker died on this version each time (out of memory, most likely):
            # another try would only kill the next one.
            raise UploadRefused(
                "Processing stopped twice without finishing (the worker ran out of memory or "
                "crashed); the version is refused."
            )
        # The final folder belongs to this version alone (listing id + number are unique) and
        # the version is not ready, so whatever is there (a dead worker's rename, a test run
        # against a recreated database) is nobody's and goes.
        storage.remove_tree(final)
        kind = report.get("upload", {}).get("kind")
        staged = sorted(p for p in staging.iterdir() if p.is_file()) if staging.exists() else []
        if not staged:
            raise UploadRefused("The uploaded files are gone; upload them again.")
        if kind == "gguf":
            source = staged[0]
            _progress(version.pk, 5, "Computing the sha256 of the GGUF file")
            report["source"] = {
                "name": source.name,
                "bytes": source.stat().st_size,
                "sha256": sha256_file(source),
            }
            _progress(
                version.pk, 15, "Converting GGUF to safetensors (dequantizing; this takes a while)"
            )
            gguf_to_safetensors(gguf_path=source, output_dir=build)
            timings["convert"] = round(time.monotonic() - started, 2)
        elif kind == "archive":
            source = staged[0]
            _progress(version.pk, 5, "Checking the archive")
            members = check_archive(source)
            report["source"] = {
                "name": source.name,
                "bytes": source.stat().st_size,
                "sha256": sha256_file(source),
            }
            _progress(version.pk, 15, "Extracting the archive")
            storage.extract_archive(source, members, build)
        else:
            build.mkdir(parents=True, exist_ok=True)
            for path in staged:
                os.replace(path, build / path.name)
        names = [p.name for p in build.iterdir()]
        for name in names:
            check_folder_name(name)
        check_folder_complete(names)
        _progress(version.pk, 40, "Checking the safetensors headers")
        check_parameter_count(
            sum(check_safetensors(p) for p in sorted(build.glob("*.safetensors")))
        )
        _progress(version.pk, 50, "Reading the model's metadata")
        metadata = read_metadata(build)
        precision = version.serving_precision
        measuring = (
            ""
            if precision == ListingVersion.Precision.FLOAT32
            else f", then measuring {precision} against float32"
        )
        _progress(version.pk, 60, f"Loading the model and generating a few tokens{measuring}")
        checked = time.monotonic()
        result = smoke_test(build, chat=metadata.has_chat_template, precision=precision)
        timings["smoke_test"] = round(time.monotonic() - checked, 2)
        if "precision" in result:
            report["precision"] = result["precision"]
        _progress(version.pk, 85, "Computing the sha256 of every file")
        files = [
            {"path": path.name, "size_bytes": path.stat().st_size, "sha256": sha256_file(path)}
            for path in sorted(build.iterdir())
        ]
        _progress(version.pk, 95, "Storing the model folder")
        _freeze(build)
        os.replace(build, final)
        timings["total"] = round(time.monotonic() - started, 2)
        report.update(
            {
                "metadata": {
                    "architecture": metadata.architecture,
                    "model_type": metadata.model_type,
                    "parameter_count": result["parameter_count"],
                    "context_length": metadata.context_length,
                    "vocab_size": metadata.vocab_size,
                    "dtype": metadata.dtype,
                    "chat_template": metadata.has_chat_template,
                },
                "sample": result["sample"],
                "files": files,
                "seconds": timings,
            }
        )
        try:
            with transaction.atomic():
                WeightFile.objects.bulk_create(
                    WeightFile(version=version, **entry) for entry in files
                )
                ListingVersion.objects.filter(pk=version.pk, status=V.PROCESSING).update(
                    status=V.READY,
                    progress=100,
                    progress_message="Ready",
                    error_message="",
                    storage_path=final_relative,
                    architecture=metadata.architecture[:100],
                    parameter_count=result["parameter_count"],
                    context_length=metadata.context_length,
                    vocab_size=metadata.vocab_size,
                    dtype=metadata.dtype[:32],
                    has_chat_template=metadata.has_chat_template,
                    size_bytes=sum(entry["size_bytes"] for entry in files),
                    processing_report=report,
                    processed_at=timezone.now(),
                )
        except BaseException:
            storage.remove_tree(final)
            raise
    except ApplicationError as exc:
        _fail(version, build=build, report=report, message=exc.message)
    except Exception as exc:
        logger.exception("Processing version %s failed", version.pk)
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        _fail(
            version,
            build=build,
            report=report,
            message=f"Processing failed: {type(exc).__name__}: {text}",
        )
    finally:
        storage.remove_tree(staging)
    version.refresh_from_db()
    return version


def _fail(version: ListingVersion, *, build: Path, report: dict, message: str) -> None:
    storage.remove_tree(build)
    try:
        build.parent.rmdir()  # the listing's models/<id>/ folder, when this was its only version
    except OSError:
        pass
    report["error"] = message
    ListingVersion.objects.filter(pk=version.pk).update(
        status=V.FAILED,
        progress_message="Refused",
        error_message=message,
        processing_report=report,
        processed_at=timezone.now(),
    )
