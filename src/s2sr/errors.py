"""One exception family. Every message names the file (or option) at fault and the fix.

The CLI prints ``str(err)`` as a single line on stderr and exits non-zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import ValidationError


class S2SRError(Exception):
    """Base class for all expected, user-facing errors."""

    exit_code = 2


class InputError(S2SRError):
    """An input file is missing, unreadable, or does not fit the task (CRS, bands, dtype...)."""


class GridError(S2SRError):
    """Two rasters do not overlap or their grids cannot be aligned."""


class ConfigError(S2SRError):
    """A configuration file or option is invalid."""


class ModelError(S2SRError):
    """A checkpoint is corrupt, or does not match the scene it is applied to."""


class OutputError(S2SRError):
    """An output cannot be written (unwritable directory, disk full, already exists)."""


class DiskFullError(OutputError):
    """The disk filled up while an output was written (ENOSPC)."""


def describe_validation_error(err: ValidationError) -> tuple[str, str, object]:
    """The first problem of a pydantic ``ValidationError`` as (dotted location, message, input).

    Shared by every typed config so they all word validation errors the same way.
    """
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e.get("loc", ()))
    msg = "unknown key" if e.get("type") == "extra_forbidden" else str(e.get("msg", err))
    return loc, msg.removeprefix("Value error, "), e.get("input")
