"""Which HR band is which Sentinel-2 band: from the HR file's band names, or ``--hr-bands``.

Aerial and VHR products name their bands by colour (NAIP: R, G, B, NIR; many orthophotos:
Red, Green, Blue, NIR) or by Sentinel-2 number (B04...). The LR bands (the S2 names the
dataset records, e.g. B2, B3, B4, B8) are looked up among them; NAIP's R, G, B, NIR gives
``--hr-bands 3,2,1,4``.
"""

from __future__ import annotations

from collections.abc import Sequence

from s2sr.bands import s2_name
from s2sr.errors import InputError

_COLOUR = {"R": "B4", "G": "B3", "B": "B2", "N": "B8", "NIR": "B8", "RED": "B4", "GREEN": "B3", "BLUE": "B2",
           "NEAR INFRARED": "B8", "NEAR-INFRARED": "B8", "INFRARED": "B8"}


def hr_band_name(desc: str | None) -> str | None:
    """A band description as the Sentinel-2 band it stands in for ('R' -> 'B4'); None if unknown."""
    if not desc:
        return None
    d = desc.strip().upper()
    return _COLOUR.get(d) or s2_name(d)


def map_hr_bands(path: str, descriptions: Sequence[str | None], count: int, lr_names: Sequence[str],
                 hr_bands: Sequence[int] | None) -> tuple[list[int], str]:
    """1-based HR band indices for ``lr_names``, and how they were chosen (for the records).

    ``hr_bands`` (``--hr-bands``) wins; else every LR band must be named in the HR file."""
    need = len(lr_names)
    if count < need:
        raise InputError(f"{path}: has {count} band(s) but the LR bands {','.join(lr_names)} need {need}; "
                         "pass an HR image with those bands, or select fewer LR bands (--lr-bands)")
    if hr_bands:
        if len(hr_bands) != need:
            raise InputError(f"{path}: --hr-bands selects {len(hr_bands)} band(s) for {need} LR band(s) "
                             f"{','.join(lr_names)}; give one HR band per LR band")
        bad = [b for b in hr_bands if not 1 <= b <= count]
        if bad:
            raise InputError(f"{path}: --hr-bands {bad} out of range 1..{count}; fix --hr-bands")
        return list(hr_bands), "--hr-bands"
    names = [hr_band_name(d) for d in descriptions]
    out = []
    for lr in lr_names:
        want = s2_name(lr) or lr
        if want not in names:
            have = ",".join(str(d) for d in descriptions) if any(descriptions) else "no band names"
            raise InputError(f"{path}: no band for {lr} among its bands ({have}); name the bands "
                             f"(R, G, B, NIR) or pass --hr-bands, e.g. 3,2,1,4 for an R,G,B,NIR image")
        out.append(names.index(want) + 1)
    return out, "band names " + ",".join(f"{lr}={descriptions[i - 1]}" for lr, i in zip(lr_names, out, strict=True))
