"""Safety checks for uploaded files: size, zip archives (bombs, damage, encryption) and XML.

Uploads come from anywhere. These checks look only at what is cheap and certain (the
archive's central directory, the first bytes of a member) before any parser sees the
file, and raise :class:`UnsafeFile` with a stable ``reason`` code that the caller turns
into a message in the user's language. They know nothing of what the file is for.

Why reading the directory is enough for a zip bomb: :mod:`zipfile` never unpacks more
than a member's stated ``file_size`` (a member whose data would unpack further fails its
CRC check), so the directory's sizes bound what extraction can produce. Members must
therefore be unpacked with :mod:`zipfile` (see :func:`read_member`), never handed to a
library that trusts its own decompressor.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass

LOGGER = logging.getLogger(__name__)

__all__ = ["UnsafeFile", "ZipLimits", "check_zip", "decode_text", "has_doctype", "is_zip",
           "member_has_doctype", "read_member"]

#: Beginnings of files that are certainly not text: images, PDF, archives, executables.
BINARY_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"\x1f\x8b", b"BM", b"RIFF",
                b"7z\xbc\xaf", b"Rar!", b"\x7fELF", b"MZ", b"\x00\x00\x27\x0a")
#: Control characters no text file has (tab, CR and LF aside): a sign of binary data.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def decode_text(data: bytes) -> str | None:
    """`data` as text (UTF-8, UTF-16 with its mark, or GB18030), or None if it is not text.

    Excel in China saves "CSV" in the ANSI code page, GBK, which GB18030 contains, and
    "Unicode text" as UTF-16.

    >>> decode_text("名称,code".encode("gb18030")), decode_text(b"%PDF-1.7")
    ('名称,code', None)
    """
    if data.startswith(BINARY_MAGIC):
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if _CONTROL.search(text) else text
    return None

#: How every zip archive starts: a local file header, or the end record of an empty one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class UnsafeFile(ValueError):
    """A file refused before parsing.

    Attributes
    ----------
    reason : str
        ``"damaged"`` (not a readable zip, or a member encrypted), ``"bomb"`` (unpacks to
        too much, or too tightly packed) or ``"too_many_members"``.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may hold; the defaults suit an office upload of tens of megabytes."""

    max_members: int = 1000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    #: Members larger than `ratio_checked_from_bytes` may be at most this many times
    #: larger than their compressed data. Small members cannot hurt whatever their ratio.
    max_compression_ratio: int = 100
    ratio_checked_from_bytes: int = 1024 * 1024


DEFAULT_ZIP_LIMITS = ZipLimits()


def is_zip(data: bytes) -> bool:
    """Tell whether `data` starts like a zip archive.

    >>> is_zip(b"PK\\x03\\x04...."), is_zip(b"SQLite format 3\\x00")
    (True, False)
    """
    return data.startswith(ZIP_MAGIC)


def check_zip(data: bytes, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> list[zipfile.ZipInfo]:
    """Check a zip archive's directory before anything is unpacked; return its file members.

    Parameters
    ----------
    data : bytes
        The whole archive.
    limits : ZipLimits
        Member count, total unpacked size and compression ratio allowed.

    Returns
    -------
    list of zipfile.ZipInfo
        The members that are files (directories left out), in archive order.

    Raises
    ------
    UnsafeFile
        ``damaged`` if the archive cannot be read or a member is encrypted,
        ``too_many_members`` or ``bomb`` if it breaks `limits`.

    Examples
    --------
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    ...     archive.writestr("a.txt", "hello")
    ...     archive.writestr("zeros.bin", bytes(20 * 1024 * 1024))
    >>> [m.filename for m in check_zip(buffer.getvalue(), ZipLimits(max_compression_ratio=5000))]
    ['a.txt', 'zeros.bin']
    >>> check_zip(buffer.getvalue())
    Traceback (most recent call last):
    ...
    geo.files.UnsafeFile: bomb: zeros.bin
    >>> check_zip(b"PK\\x03\\x04 not really")
    Traceback (most recent call last):
    ...
    geo.files.UnsafeFile: damaged: File is not a zip file
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError,
            ValueError, OSError, EOFError, RuntimeError) as error:
        raise UnsafeFile("damaged", str(error)[:200]) from None
    if len(members) > limits.max_members:
        raise UnsafeFile("too_many_members", str(len(members)))
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise UnsafeFile("damaged", f"{member.filename[:100]} is encrypted")
        total += member.file_size
        if (member.file_size > limits.ratio_checked_from_bytes
                and member.file_size > limits.max_compression_ratio
                * max(member.compress_size, 1)):
            raise UnsafeFile("bomb", member.filename[:100])
    if total > limits.max_unzipped_bytes:
        raise UnsafeFile("bomb", f"{total} bytes unpacked")
    return [m for m in members if not m.is_dir()]


def read_member(data: bytes, member: zipfile.ZipInfo) -> bytes:
    """Unpack one member checked by :func:`check_zip`; a lying member raises ``damaged``.

    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as archive:
    ...     archive.writestr("a.txt", "hello")
    >>> read_member(buffer.getvalue(), check_zip(buffer.getvalue())[0])
    b'hello'
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member) as stream:
            # Read at most the stated size plus one byte: more means the member lies.
            content = stream.read(member.file_size + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError,
            ValueError, OSError, EOFError, RuntimeError) as error:
        raise UnsafeFile("damaged", str(error)[:200]) from None
    if len(content) != member.file_size:
        raise UnsafeFile("damaged", f"{member.filename[:100]} is not the size it says")
    return content


#: Longest XML prolog (declaration, comments, processing instructions) read before the root.
MAX_PROLOG_BYTES = 1024 * 1024


def has_doctype(document: bytes | str) -> bool:
    """Tell whether an XML document declares a DTD before its root element (or may do so).

    The XML files we read (KML, a workbook's parts) never need a DTD; refusing them rules
    out entity expansion ("billion laughs") and external entities whatever the parser.
    Only the prolog is read, however long the document: a DTD can stand nowhere else. A
    document whose root element never starts counts as declaring one.

    >>> has_doctype(b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "b">]><kml/>')
    True
    >>> has_doctype(b'<?xml version="1.0"?>' + b'<!-- padding -->' * 500 + b'<!DOCTYPE x>')
    True
    >>> has_doctype(b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>')
    False
    >>> has_doctype("<kml><!DOCTYPE is only text here></kml>")
    False
    """
    return _prolog(document) != "root"


def _prolog(document: bytes | str) -> str:
    """'dtd' (a DTD or other markup declaration), 'root' (the root element starts first)
    or 'open' (the prolog does not end within `document`)."""
    if isinstance(document, bytes):
        if document.startswith((b"\xff\xfe", b"\xfe\xff")):
            document = document.decode("utf-16", "replace")
        else:  # markup is ASCII in every encoding a KML or a workbook uses
            document = document.decode("latin-1")
    position = 0
    while True:
        while position < len(document) and document[position] in "\ufeff \t\r\n":
            position += 1
        rest = document[position:position + 4]
        if len(rest) < 4 and "<!--".startswith(rest) or not rest:
            return "open"
        if rest.startswith("<?"):
            end, step = document.find("?>", position + 2), 2
        elif rest.startswith("<!--"):
            end, step = document.find("-->", position + 4), 3
        elif rest.startswith("<!"):
            return "dtd"  # <!DOCTYPE, <!ENTITY, or anything else no prolog of ours has
        else:
            return "root"
        if end < 0:
            return "open"
        position = end + step


def member_has_doctype(data: bytes, member: zipfile.ZipInfo) -> bool:
    """:func:`has_doctype` for a zip member, reading no more of it than its prolog."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member) as stream:
            head = b""
            while len(head) <= MAX_PROLOG_BYTES:
                chunk = stream.read(16 * 1024)
                head += chunk
                state = _prolog(head)
                if state != "open" or not chunk:
                    return state != "root"
            return True
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError,
            ValueError, OSError, EOFError, RuntimeError) as error:
        raise UnsafeFile("damaged", str(error)[:200]) from None
