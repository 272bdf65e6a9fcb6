"""How ``apply`` lays out its COG: codec, level, block size, overview count, BigTIFF.

``apply`` assembles the COG itself from tiles encoded while streaming
(:mod:`s2sr.io.cogblocks`), not through GDAL's COG driver. Of GDAL's COG creation options
(``--co KEY=VALUE``, checked first against GDAL's own list, :mod:`s2sr.io.gdalopts`) it
takes those this writer implements, with GDAL's meaning:

- ``COMPRESS`` ZSTD or DEFLATE and ``LEVEL`` (over ``--compress`` / ``--compress-level``);
- ``BLOCKSIZE`` (a multiple of 16), ``OVERVIEW_COUNT``, ``OVERVIEWS`` (AUTO, IGNORE_EXISTING,
  NONE), ``BIGTIFF`` (YES, NO, IF_NEEDED, IF_SAFER);
- ``PREDICTOR=YES``, ``RESAMPLING`` / ``OVERVIEW_RESAMPLING=AVERAGE`` and ``INTERLEAVE=PIXEL``,
  which are what it always writes.

Any other option or value is refused with a one-line error naming it and what is
supported: never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2sr.errors import ConfigError
from s2sr.io.tiffcodec import TIFF_COMPRESSION, TileCodec

BLOCK = 512
# options whose only accepted value is what the writer always does
FIXED = {"PREDICTOR": "YES", "RESAMPLING": "AVERAGE", "OVERVIEW_RESAMPLING": "AVERAGE", "INTERLEAVE": "PIXEL"}
SUPPORTED = ("COMPRESS", "LEVEL", "BLOCKSIZE", "OVERVIEW_COUNT", "OVERVIEWS", "BIGTIFF", *FIXED)
BIGTIFF = {"YES": True, "NO": False, "IF_NEEDED": None, "IF_SAFER": None}


@dataclass(frozen=True)
class CogLayout:
    """The layout of one COG: tiles of ``compress`` at ``level`` (0: the codec's default), ``block``
    pixels square, ``overviews`` levels (None: halved until one fits a block), BigTIFF or not (None:
    only when the file would not fit classic TIFF)."""

    compress: str = "ZSTD"
    level: int = 0
    block: int = BLOCK
    overviews: int | None = None
    bigtiff: bool | None = None

    def codec(self, dtype: str) -> TileCodec:
        return TileCodec(self.compress, dtype, self.level)


def _int(key: str, value: str, low: int) -> int:
    try:
        v = int(value)
    except ValueError:
        v = low - 1
    if v < low:
        raise ConfigError(f"--co {key}={value}: expected an integer >= {low}")
    return v


def cog_layout(compress: str = "ZSTD", level: int = 0, co: dict[str, str] | None = None) -> CogLayout:
    """The layout for ``--compress``, ``--compress-level`` and the ``--co`` options ``co`` (upper-case keys)."""
    comp, block, overviews, big = compress.upper(), BLOCK, None, None
    opts = co or {}
    for key, value in opts.items():
        val = value.upper()
        if key in FIXED:
            if val != FIXED[key]:
                raise ConfigError(f"--co {key}={value}: s2sr apply always writes {key}={FIXED[key]}; "
                                  f"pass that or leave the option out")
        elif key == "COMPRESS":
            if val not in TIFF_COMPRESSION:
                raise ConfigError(f"--co COMPRESS={value}: s2sr apply writes {' or '.join(TIFF_COMPRESSION)} "
                                  "tiles; choose one of them")
            comp = val
        elif key == "LEVEL":
            level = _int(key, value, 1)
        elif key == "BLOCKSIZE":
            block = _int(key, value, 16)
            if block % 16:
                raise ConfigError(f"--co BLOCKSIZE={value}: TIFF tiles are a multiple of 16 pixels, e.g. 256 or 512")
        elif key == "OVERVIEW_COUNT":
            overviews = _int(key, value, 0)
        elif key == "OVERVIEWS":
            if val not in ("AUTO", "IGNORE_EXISTING", "NONE"):
                raise ConfigError(f"--co OVERVIEWS={value}: the output is new and has no overviews to reuse; "
                                  "choose AUTO or NONE")
        elif key == "BIGTIFF":
            if val not in BIGTIFF:
                raise ConfigError(f"--co BIGTIFF={value}: choose one of {', '.join(BIGTIFF)}")
            big = BIGTIFF[val]
        else:
            hint = "; use --threads" if key == "NUM_THREADS" else ""
            raise ConfigError(f"--co {key}={value}: s2sr apply assembles its COG itself and takes only "
                              f"{', '.join(SUPPORTED)}{hint}")
    if opts.get("OVERVIEWS", "").upper() == "NONE":
        overviews = 0
    layout = CogLayout(comp, level, block, overviews, big)
    try:
        layout.codec("uint16")
    except ConfigError as e:
        if "LEVEL" not in opts:
            raise
        raise ConfigError(f"--co LEVEL={opts['LEVEL']}: {str(e).split(': ', 1)[1]}") from None
    return layout
