"""Patch sampling and the spatially disjoint train/val/test split.

The LR overlap window is cut into square blocks of ``cfg.block`` LR pixels; whole
blocks go to one split (seeded shuffle). Patches never cross a block edge, and in a
val or test block they keep ``cfg.gap`` LR pixels from it, so no val/test patch
overlaps or touches a patch of another split. Val/test blocks are drawn among the
full-size blocks with the most valid LR pixels first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from rasterio.windows import Window

REJECT_REASONS = ("nodata", "bright", "low_texture")


@dataclass
class Block:
    window: Window  # LR pixels
    split: str = "train"
    valid: float = 1.0
    patches: list[tuple[int, int]] = field(default_factory=list)  # (row, col) LR px, absolute


class SplitOptions(Protocol):
    """What the split and the patch placement read of a config (``PrepareConfig``, ``UnpairedConfig``)."""

    @property
    def patch_size(self) -> int: ...
    @property
    def patch_stride(self) -> int | None: ...
    @property
    def val_fraction(self) -> float: ...
    @property
    def test_fraction(self) -> float: ...
    @property
    def sampling(self) -> str: ...
    @property
    def gap(self) -> int: ...
    @property
    def block(self) -> int: ...
    @property
    def split_block(self) -> int | None: ...


class RejectOptions(Protocol):
    @property
    def bright_value(self) -> float: ...
    @property
    def max_bright_fraction(self) -> float: ...
    @property
    def min_std(self) -> float: ...


MIN_SPLIT_BLOCKS = 3  # train, val and test need one block each


def usable_blocks(windows: list[Window], block: int, patch: int, gap: int) -> int:
    """How many split blocks of ``block`` LR px the ``windows`` give that can hold a val/test patch."""
    inner = patch + 2 * gap
    return sum(min(b.window.width, b.window.height) >= inner for w in windows for b in cut_blocks(w, block))


def choose_block(windows: list[Window], cfg: SplitOptions) -> int:
    """``--split-block``, else the default (4 patches + 2 gaps), shrunk as little as needed for the scenes
    to give one block each to train, val and test (small scenes: a 600 px image at x4 is 150 LR px)."""
    default = cfg.block
    if cfg.split_block is not None or not windows or (cfg.val_fraction == 0 and cfg.test_fraction == 0):
        return default
    p, g = cfg.patch_size, cfg.gap
    if usable_blocks(windows, default, p, g) >= MIN_SPLIT_BLOCKS:
        return default
    for b in range(default - 1, p + 2 * g - 1, -1):
        if usable_blocks(windows, b, p, g) >= MIN_SPLIT_BLOCKS:
            return b
    return default


def min_scene_lr_px(patch: int, gap: int, margin: int = 0) -> int:
    """The smallest square LR scene (px a side) that gives train, val and test a block (2 x 2 blocks);
    ``margin``: LR px lost on each side (prepare's co-registration keeps up to 2)."""
    return 2 * (patch + 2 * gap) + 2 * margin


def empty_split_fix(split: str, fraction: float, blocks: dict[str, int], block: int, patch: int, gap: int) -> str:
    """Why ``split`` got no patch and what to do, in the words both ``prepare`` and ``train`` use."""
    opt = f"--{split}-fraction"
    scenes = f"--{split}-scenes NAMES"
    if fraction == 0 and not blocks.get(split):
        return f"prepare ran with {opt} 0; re-run it with {opt} 0.15 (or {scenes} with a scene list)"
    if blocks.get(split):
        return (f"every patch of its {blocks[split]} block(s) was rejected (see rejects in prepare.json); use other "
                "images, or relax --min-std / --bright-value")
    total = sum(blocks.values())
    return (f"the scenes give {total} split block(s) of {block} LR px and train, val and test need one each; re-run "
            f"prepare with a smaller --split-block (>= {patch + 2 * gap}) or --patch-size, or with larger or more "
            f"images (at least {min_scene_lr_px(patch, gap)} LR px a side), or {scenes}")


def cut_blocks(window: Window, size: int) -> list[Block]:
    """Tile ``window`` with blocks of ``size`` (the last row/column may be smaller)."""
    r0, c0 = int(window.row_off), int(window.col_off)
    h, w = int(window.height), int(window.width)
    return [
        Block(Window(c, r, min(size, c0 + w - c), min(size, r0 + h - r)))
        for r in range(r0, r0 + h, size)
        for c in range(c0, c0 + w, size)
    ]


class ValidityReader(Protocol):
    def valid_fraction(self, window: Window) -> float: ...


def measure_valid(blocks: list[Block], reader: ValidityReader) -> None:
    """Fraction of valid LR pixels per block, from a decimated read (cheap)."""
    for b in blocks:
        b.valid = reader.valid_fraction(b.window)


def assign_splits(blocks: list[Block], cfg: SplitOptions, rng: np.random.Generator) -> None:
    """Whole blocks to train/val/test: at least one each for val/test when there are >= 3 blocks.

    Only blocks that can hold a patch count; val/test blocks must hold one inside the gap,
    and are drawn first among full-size, fully valid blocks; train always keeps one block.
    """
    p, inner = cfg.patch_size, cfg.patch_size + 2 * cfg.gap
    live = [b for b in blocks if b.valid > 0 and min(b.window.width, b.window.height) >= p]
    n = len(live)
    n_val = round(cfg.val_fraction * n)
    n_test = round(cfg.test_fraction * n)
    if n >= 3:
        n_val = max(n_val, 1) if cfg.val_fraction > 0 else 0
        n_test = max(n_test, 1) if cfg.test_fraction > 0 else 0
    else:
        n_val = n_test = 0
    order = rng.permutation(n)
    fits = [min(live[i].window.width, live[i].window.height) >= inner for i in order]
    score = [
        -2 * fits[k] - (live[i].valid >= 0.99) - (live[i].window.width == cfg.block == live[i].window.height)
        for k, i in enumerate(order)
    ]
    ranked = [order[k] for k in np.argsort(score, kind="stable") if fits[k]]
    ranked = ranked[: max(0, min(n_val + n_test, n - 1))]
    n_val = min(n_val, len(ranked))
    for k, i in enumerate(ranked):
        live[i].split = "val" if k < n_val else "test"


def place_patches(blocks: list[Block], cfg: SplitOptions, rng: np.random.Generator) -> None:
    """Patch positions in each block: a regular grid, or seeded random positions.

    With ``cfg.patch_stride`` below the patch size, train blocks get overlapping grid patches
    (the last row/column flush with the block edge, so the whole block is used); val and test
    patches never overlap (each pixel is scored once)."""
    p = cfg.patch_size
    for b in blocks:
        if b.valid <= 0:
            continue
        inset = cfg.gap if b.split != "train" else 0
        r0, c0 = int(b.window.row_off) + inset, int(b.window.col_off) + inset
        h, w = int(b.window.height) - 2 * inset, int(b.window.width) - 2 * inset
        if h < p or w < p:
            continue
        ny, nx = h // p, w // p
        if cfg.sampling == "grid" and b.split == "train" and cfg.patch_stride and cfg.patch_stride < p:
            rows, cols = _strided(h, p, cfg.patch_stride), _strided(w, p, cfg.patch_stride)
            b.patches = [(r0 + i, c0 + j) for i in rows for j in cols]
        elif cfg.sampling == "grid":
            oy, ox = (h - ny * p) // 2, (w - nx * p) // 2
            b.patches = [(r0 + oy + i * p, c0 + ox + j * p) for i in range(ny) for j in range(nx)]
        else:
            rr = rng.integers(r0, r0 + h - p + 1, size=ny * nx)
            cc = rng.integers(c0, c0 + w - p + 1, size=ny * nx)
            b.patches = list(zip(rr.tolist(), cc.tolist(), strict=True))


def _strided(n: int, p: int, stride: int) -> list[int]:
    """Offsets of patches of ``p`` every ``stride`` px along ``n`` px, the last one flush with the end."""
    offs = list(range(0, n - p + 1, stride))
    if offs[-1] != n - p:
        offs.append(n - p)
    return offs


def limit_patches(blocks: list[Block], max_patches: int | None, rng: np.random.Generator) -> None:
    """Keep a seeded random subset of at most ``max_patches``, in proportion per split."""
    total = sum(len(b.patches) for b in blocks)
    if max_patches is None or total <= max_patches:
        return
    keep_frac = max_patches / total
    for split in ("train", "val", "test"):
        refs = [(bi, pi) for bi, b in enumerate(blocks) if b.split == split for pi in range(len(b.patches))]
        if not refs:
            continue
        k = max(1, int(round(keep_frac * len(refs)))) if split != "train" else int(keep_frac * len(refs))
        chosen = {refs[i] for i in rng.choice(len(refs), size=min(k, len(refs)), replace=False)}
        for bi, b in enumerate(blocks):
            if b.split == split:
                b.patches = [pt for pi, pt in enumerate(b.patches) if (bi, pi) in chosen]


def reject_reason(lr: np.ndarray, lr_ok: np.ndarray, hr_ok: np.ndarray, cfg: RejectOptions) -> str | None:
    """Why a patch is unusable (one of :data:`REJECT_REASONS`), or None to keep it."""
    if not (lr_ok.all() and hr_ok.all()):
        return "nodata"
    if (lr.mean(axis=0) > cfg.bright_value).mean() > cfg.max_bright_fraction:
        return "bright"
    if float(lr.std(axis=(1, 2)).mean()) < cfg.min_std:
        return "low_texture"
    return None
