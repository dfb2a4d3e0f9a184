"""Checks that need only names, sizes and archive listings: they run at upload time, before
anything is stored, and again in processing (an archive is re-checked before extraction).

Every refusal raises UploadRefused (an ApplicationError) with a message for the publisher.
"""

import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings

from config.api_errors import ApplicationError

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
# What a Hugging Face model folder may hold; anything else is refused rather than silently kept.
FOLDER_FILE_NAMES = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
    "chat_template.json",
    "model.safetensors.index.json",
    "README.md",
    "LICENSE",
    "LICENSE.txt",
}
IGNORED_NAMES = {".gitattributes", ".DS_Store"}
# Compression bombs. A model folder has a few dozen files (sharded weights, config, tokenizer),
# and weights barely compress (floats: about 1.1 : 1), so an archive that expands more than
# MAX_EXPANSION_RATIO times its size, past RATIO_FLOOR_BYTES, or lists more than
# MAX_ARCHIVE_MEMBERS entries is not a model folder: it is refused from its listing, before
# anything is extracted. Small archives (a tiny model of zeros) may compress better.
MAX_ARCHIVE_MEMBERS = 1000
MAX_EXPANSION_RATIO = 20
RATIO_FLOOR_BYTES = 64 * 1024 * 1024
TOKENIZER_FILE_SETS = (("tokenizer.json",), ("tokenizer.model",), ("vocab.json", "merges.txt"))


class UploadRefused(ApplicationError):
    def __init__(self, message: str):
        super().__init__(message, code="upload_refused", field="files")


@dataclass(frozen=True)
class UploadPlan:
    """What an upload is: kind is "gguf", "archive" or "folder"."""

    kind: str
    names: tuple[str, ...]
    total_bytes: int

    @property
    def source_format(self) -> str:
        return "gguf" if self.kind == "gguf" else "safetensors"


def upload_basename(name: str) -> str:
    """The file name without any folder a browser or archive put before it."""
    return PurePosixPath(name.replace("\\", "/")).name


def _suffix(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".tar.gz"):
        return ".tar.gz"
    return PurePosixPath(lower).suffix


def is_archive_name(name: str) -> bool:
    return _suffix(name) in ARCHIVE_SUFFIXES


def check_size(total_bytes: int) -> None:
    limit = settings.UPLOAD_MAX_BYTES
    if total_bytes > limit:
        raise UploadRefused(
            f"The upload is {total_bytes:,} bytes, over the limit of {limit:,} bytes."
        )


def check_parameter_count(count: int) -> None:
    """Processing loads the model in float32 (twice while converting a GGUF): refuse what the
    workers cannot hold before trying, rather than have the worker killed for memory."""
    limit = settings.MODEL_MAX_PARAMETERS
    if count > limit:
        raise UploadRefused(
            f"The model has {count:,} weights; this store processes models of up to {limit:,}."
        )


def check_folder_name(name: str) -> None:
    """One file of a model folder: refused if it is a pickle checkpoint or not a model file."""
    base = PurePosixPath(name).name
    suffix = _suffix(base)
    if suffix in PICKLE_SUFFIXES:
        raise UploadRefused(
            f"{base}: pickle checkpoints ({', '.join(sorted(PICKLE_SUFFIXES))}) can run code when "
            "loaded and are not accepted. Save the model with safetensors "
            "(save_pretrained(..., safe_serialization=True)) or upload a GGUF file."
        )
    if suffix == ".safetensors" or base in FOLDER_FILE_NAMES:
        return
    raise UploadRefused(
        f"{base}: not a file of a model folder. Expected config.json, tokenizer files and *.safetensors."
    )


def check_folder_complete(names: list[str]) -> None:
    """A model folder needs a config, a tokenizer and weights."""
    present = {PurePosixPath(n).name for n in names}
    if "config.json" not in present:
        raise UploadRefused("config.json is missing: a model folder needs its config.")
    if not any(all(f in present for f in files) for files in TOKENIZER_FILE_SETS):
        raise UploadRefused(
            "The tokenizer is missing: include tokenizer.json (or tokenizer.model, or vocab.json with merges.txt)."
        )
    if not any(n.endswith(".safetensors") for n in present):
        raise UploadRefused("No weights: include the model's *.safetensors files.")


def plan_upload(files: list[tuple[str, int]]) -> UploadPlan:
    """Classifies an upload from (name, size) pairs and refuses what is wrong in them."""
    if not files:
        raise UploadRefused(
            "Choose a GGUF file, an archive of a model folder, or the folder's files."
        )
    names = [upload_basename(name) for name, _ in files]
    total = sum(size for _, size in files)
    check_size(total)
    if len(set(names)) != len(names):
        raise UploadRefused("Two files have the same name.")
    if len(files) == 1 and _suffix(names[0]) == ".gguf":
        return UploadPlan("gguf", tuple(names), total)
    if len(files) == 1 and is_archive_name(names[0]):
        return UploadPlan("archive", tuple(names), total)
    if any(_suffix(n) == ".gguf" or is_archive_name(n) for n in names):
        raise UploadRefused(
            "Upload a GGUF file or an archive on its own, not together with other files."
        )
    names = [n for n in names if n not in IGNORED_NAMES]
    for name in names:
        check_folder_name(name)
    check_folder_complete(names)
    return UploadPlan("folder", tuple(names), total)


# --- archives --------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveMember:
    name: str  # path inside the archive, as stored
    size: int


def _safe_member_path(name: str) -> PurePosixPath:
    """Refuses a member path that would land outside the extraction folder."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UploadRefused(f"The archive holds an absolute path ({name}); refused.")
    path = PurePosixPath(name.replace("\\", "/"))
    if any(part == ".." for part in path.parts):
        raise UploadRefused(f"The archive holds a path escaping its folder ({name}); refused.")
    return path


def _count(index: int) -> None:
    if index >= MAX_ARCHIVE_MEMBERS:
        raise UploadRefused(
            f"The archive lists more than {MAX_ARCHIVE_MEMBERS:,} entries; a model folder has a "
            "few dozen files. Refused."
        )


def list_archive(path: Path) -> list[ArchiveMember]:
    """The regular files of a zip or tar, refusing links, devices, escaping paths and
    listings longer than any model folder's."""
    members: list[ArchiveMember] = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for index, info in enumerate(archive.infolist()):
                _count(index)
                _safe_member_path(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UploadRefused(
                        f"The archive holds a symbolic link ({info.filename}); refused."
                    )
                if info.is_dir():
                    continue
                members.append(ArchiveMember(info.filename, info.file_size))
        return members
    try:
        archive = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError) as exc:
        raise UploadRefused(
            "The archive cannot be read: it is not a valid zip or tar file."
        ) from exc
    with archive:
        for index, info in enumerate(archive):
            _count(index)
            _safe_member_path(info.name)
            if info.issym() or info.islnk():
                raise UploadRefused(f"The archive holds a link ({info.name}); refused.")
            if info.isdir():
                continue
            if not info.isfile():
                raise UploadRefused(f"The archive holds a special file ({info.name}); refused.")
            members.append(ArchiveMember(info.name, info.size))
    return members


def common_folder(names: list[str]) -> str:
    """The single top folder all members sit in ("my-model/"), or "" when they do not share one."""
    tops = {PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names):
        return tops.pop()
    return ""


def check_expansion(*, expanded: int, archive_bytes: int) -> None:
    """Refuses an archive that expands like a compression bomb (see MAX_EXPANSION_RATIO)."""
    if expanded > RATIO_FLOOR_BYTES and expanded > MAX_EXPANSION_RATIO * max(archive_bytes, 1):
        raise UploadRefused(
            f"The archive expands {expanded // max(archive_bytes, 1):,} times its size "
            f"({archive_bytes:,} bytes to {expanded:,}); model weights barely compress, so this "
            "is refused as a compression bomb. Upload the folder's files instead."
        )


def check_archive(path: Path) -> list[ArchiveMember]:
    """Everything an archive's listing can tell: safe paths, no links, sizes, a complete folder."""
    members = [m for m in list_archive(path) if PurePosixPath(m.name).name not in IGNORED_NAMES]
    if not members:
        raise UploadRefused("The archive is empty.")
    # The uncompressed size counts: a small zip can expand to fill the disk.
    expanded = sum(m.size for m in members)
    check_size(expanded)
    check_expansion(expanded=expanded, archive_bytes=path.stat().st_size)
    prefix = common_folder([m.name for m in members])
    relative = [
        str(PurePosixPath(m.name).relative_to(prefix)) if prefix else m.name for m in members
    ]
    nested = [name for name in relative if len(PurePosixPath(name).parts) > 1]
    for name in relative:
        check_folder_name(name)
    if nested:
        raise UploadRefused(
            f"Put the model files at the top of the archive's folder ({nested[0]} is nested)."
        )
    check_folder_complete(relative)
    return members
