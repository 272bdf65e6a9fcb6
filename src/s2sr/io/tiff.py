"""The little TIFF this project writes by hand: read the tags of a small TIFF, lay out IFDs.

:func:`read_tags` returns the raw tags of the first IFD of a little-endian TIFF (classic
or BigTIFF), as (type, count, value bytes): ``apply`` takes the georeferencing and GDAL
metadata tags from a tiny GeoTIFF that GDAL writes, so those stay GDAL's own bytes.
:class:`Ifd` holds the tags of one image and encodes them at a given file position
(classic TIFF or BigTIFF), with out-of-line values right after the directory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# TIFF field types: (code, size in bytes)
BYTE, ASCII, SHORT, LONG, DOUBLE, LONG8 = 1, 2, 3, 4, 12, 16
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}
TYPE_FORMAT = {SHORT: "H", LONG: "I", LONG8: "Q", DOUBLE: "d"}


@dataclass(frozen=True)
class Tag:
    """One TIFF field: type code, value count and the little-endian value bytes."""

    type: int
    count: int
    data: bytes

    @classmethod
    def of(cls, type_: int, values: list[int] | list[float] | tuple[int, ...]) -> Tag:
        return cls(type_, len(values), struct.pack(f"<{len(values)}{TYPE_FORMAT[type_]}", *values))

    @classmethod
    def short_or_long(cls, value: int) -> Tag:
        return cls.of(SHORT if value < 65536 else LONG, [value])


def read_tags(data: bytes) -> dict[int, Tag]:
    """Tags of the first IFD of the little-endian TIFF ``data`` (classic or BigTIFF)."""
    if data[:2] != b"II":
        raise ValueError("not a little-endian TIFF")
    big = struct.unpack_from("<H", data, 2)[0] == 43
    if big:
        off = struct.unpack_from("<Q", data, 8)[0]
        n, pos, entry, inline = struct.unpack_from("<Q", data, off)[0], off + 8, "<HHQQ", 8
    else:
        off = struct.unpack_from("<I", data, 4)[0]
        n, pos, entry, inline = struct.unpack_from("<H", data, off)[0], off + 2, "<HHII", 4
    size = struct.calcsize(entry)
    tags: dict[int, Tag] = {}
    for i in range(n):
        code, typ, count, value = struct.unpack_from(entry, data, pos + i * size)
        nbytes = TYPE_SIZE[typ] * count
        start = pos + i * size + size - inline if nbytes <= inline else value
        tags[code] = Tag(typ, count, bytes(data[start:start + nbytes]))
    return tags


@dataclass
class Ifd:
    """The tags of one image file directory."""

    tags: dict[int, Tag] = field(default_factory=dict)

    def size(self, big: bool) -> int:
        """Bytes of the directory plus its out-of-line values (each value starts on an even offset)."""
        inline = 8 if big else 4
        n = len(self.tags)
        head = (8 + 20 * n + 8) if big else (2 + 12 * n + 4)
        extra = sum(_even(len(t.data)) for t in self.tags.values() if len(t.data) > inline)
        return head + extra

    def encode(self, offset: int, next_ifd: int, big: bool) -> bytes:
        """The directory written at file ``offset``, its out-of-line values right after it."""
        inline = 8 if big else 4
        codes = sorted(self.tags)
        n = len(codes)
        out = bytearray(struct.pack("<Q", n) if big else struct.pack("<H", n))
        extra = bytearray()
        values_at = offset + ((8 + 20 * n + 8) if big else (2 + 12 * n + 4))
        for code in codes:
            t = self.tags[code]
            if len(t.data) <= inline:
                value = t.data.ljust(inline, b"\0")
            else:
                pos = values_at + len(extra)
                value = struct.pack("<Q" if big else "<I", pos)
                extra += t.data + b"\0" * (_even(len(t.data)) - len(t.data))
            out += struct.pack("<HHQ" if big else "<HHI", code, t.type, t.count) + value
        out += struct.pack("<Q" if big else "<I", next_ifd)
        return bytes(out + extra)


def header(big: bool, first_ifd: int) -> bytes:
    """The TIFF file header (little-endian) pointing at ``first_ifd``."""
    if big:
        return b"II" + struct.pack("<HHHQ", 43, 8, 0, first_ifd)
    return b"II" + struct.pack("<HI", 42, first_ifd)


def _even(n: int) -> int:
    return n + (n & 1)
