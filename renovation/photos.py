"""Photos attached to item changes: checked, re-encoded and stored under the instance folder.

A photo is opened with Pillow (so a file that only pretends to be an image is
refused), limited in bytes and pixels (no decompression bombs), and saved again
as JPEG: this drops EXIF data, GPS positions included, and anything hidden in
the original file. Stored names are random; the original name is not kept.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from renovation.errors import DomainError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTOS_PER_CHANGE = 6
MAX_PIXELS = 40_000_000
MAX_SIDE = 2000
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo checked and re-encoded in memory, ready to be written."""

    data: bytes
    width: int
    height: int

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def prepare(data: bytes, filename: str = "") -> PreparedPhoto:
    """Check one upload and re-encode it as JPEG; raise DomainError saying what is wrong."""
    label = filename[:80] or "?"
    if not data:
        raise DomainError(_l("The photo %(name)s is empty.", name=label))
    if len(data) > MAX_PHOTO_BYTES:
        raise DomainError(_l("The photo %(name)s is larger than %(mb)d MB.", name=label,
                             mb=MAX_PHOTO_BYTES // (1024 * 1024)), status=413)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            width, height = probe.size
            if image_format not in ACCEPTED_FORMATS:
                raise DomainError(_l("The photo %(name)s is not a JPEG, PNG or WebP image.",
                                     name=label))
            if width * height > MAX_PIXELS:
                raise DomainError(_l("The photo %(name)s has too many pixels.", name=label))
            probe.load()
            image = probe.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError,
            ValueError):
        raise DomainError(_l("The file %(name)s is not a readable image.", name=label)) from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    return PreparedPhoto(out.getvalue(), image.width, image.height)


def prepare_all(uploads: list[tuple[str, bytes]]) -> list[PreparedPhoto]:
    """Check every upload first, so one bad photo refuses the whole change."""
    uploads = [(name, data) for name, data in uploads if name or data]
    if len(uploads) > MAX_PHOTOS_PER_CHANGE:
        raise DomainError(_l("At most %(n)d photos per change.", n=MAX_PHOTOS_PER_CHANGE))
    return [prepare(data, name) for name, data in uploads]


def write(folder: Path, photo: PreparedPhoto) -> str:
    """Write `photo` under `folder` with a new random name; return the name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".jpg"
    (folder / name).write_bytes(photo.data)
    return name


def path_of(folder: Path, stored_name: str) -> Path:
    """The file of a stored photo; the name must be one we made."""
    if len(stored_name) != 36 or not all(c in "0123456789abcdef" for c in stored_name[:32]) \
            or not stored_name.endswith(".jpg"):
        raise ValueError("not a stored photo name")
    return folder / stored_name
