"""A GPT's avatar: an uploaded image, checked by decoding it (Pillow), squared and resized
to SIZE pixels, stored as PNG under MEDIA_ROOT/gpts/avatars (nothing of the upload is kept)."""

import hashlib
import io
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from config.api_errors import ApplicationError

SIZE = 256
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_image", field="avatar")


def avatar_size_check(*, size: int) -> None:
    """An avatar upload is at most GPT_AVATAR_MAX_BYTES: checked on an upload's declared size
    before it is read, and on the bytes."""
    if size > settings.GPT_AVATAR_MAX_BYTES:
        raise _refuse(f"An avatar is at most {settings.GPT_AVATAR_MAX_BYTES // (1024 * 1024)} MB.")


def avatar_png(data: bytes) -> bytes:
    """The avatar made of an upload: a SIZE×SIZE PNG; a clear error for anything else."""
    avatar_size_check(size=len(data))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise _refuse("An avatar is a PNG, JPEG, WebP or GIF image.")
            if probe.width * probe.height > MAX_PIXELS:
                raise _refuse("This image is too large in pixels for an avatar.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            square = ImageOps.fit(image.convert("RGBA"), (SIZE, SIZE))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse("This file is not an image we can read.") from exc
    out = io.BytesIO()
    square.save(out, format="PNG", optimize=True)
    return out.getvalue()


def avatar_store(png: bytes) -> str:
    """Writes the PNG once under a name of its content; returns its path under MEDIA_ROOT."""
    name = f"gpts/avatars/{hashlib.sha256(png).hexdigest()[:32]}.png"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(png)
        partial.replace(path)
    return name
