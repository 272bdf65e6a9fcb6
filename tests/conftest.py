"""Shared fixtures: seeded tiny rasters and model bundles made on the fly, and the overridable
shared-data path."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

if TYPE_CHECKING:
    from s2sr.bundle import ModelBundle

SHARED_DATA_ENV = "S2SR_SHARED_DATA"


def shared_data_dir() -> Path:
    """``$S2SR_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get(SHARED_DATA_ENV, default))


def shared_data_or_skip() -> Path:
    """The shared samples folder, or a skip whose reason says how to run these tests."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"shared sample data not found at {d}: these tests read the real samples (Sentinel-2, aerial); "
                    f"to run them, put the samples in ../shared/data beside the repository, or run "
                    f"`{SHARED_DATA_ENV}=/path/to/data .venv/bin/python -m pytest -m shared_data` "
                    "(.ci/run does this when ../shared/data exists)")
    return d


@pytest.fixture
def shared_data() -> Path:
    return shared_data_or_skip()


MakeRaster = Callable[..., Path]


@pytest.fixture
def make_raster(tmp_path: Path) -> MakeRaster:
    """Factory: ``make_raster(name, crs=..., res=..., shape=(bands, h, w), dtype=..., nodata=...)``.

    Content is seeded smooth noise in a plausible reflectance range (x 10000), or ``data``.
    """
    counter = {"n": 0}

    def _make(
        name: str | None = None,
        *,
        crs: str | None = "EPSG:32631",
        res: float = 10.0,
        shape: tuple[int, int, int] = (4, 64, 64),
        dtype: str = "uint16",
        nodata: float | None = 0,
        origin: tuple[float, float] = (500000.0, 4600000.0),
        data: np.ndarray | None = None,
        seed: int = 0,
        descriptions: tuple[str, ...] | None = None,
        **profile: Any,
    ) -> Path:
        counter["n"] += 1
        path = tmp_path / (name or f"r{counter['n']}.tif")
        if data is None:
            rng = np.random.default_rng(seed)
            b, h, w = shape
            base = rng.normal(size=(b, h, w)).cumsum(axis=1).cumsum(axis=2)
            base = (base - base.min()) / (np.ptp(base) + 1e-9)
            data = (500 + 3000 * base).astype(dtype)
        b, h, w = data.shape
        transform = Affine(res, 0, origin[0], 0, -res, origin[1])
        prof = dict(driver="GTiff", width=w, height=h, count=b, dtype=str(data.dtype),
                    crs=CRS.from_user_input(crs) if crs else None, transform=transform, nodata=nodata)
        prof.update(profile)
        with warnings.catch_warnings():
            # a pixel grid (no CRS, identity transform) is written on purpose: rasterio says it may not be kept
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path, "w", **prof) as ds:
                ds.write(data)
                if descriptions:
                    ds.descriptions = descriptions
        return path

    return _make


def make_bundle(arch: str = "bicubic", scale: int = 4, *, mean: float = 1500.0, std: float = 700.0,
                input_res: float | None = 10.0, metrics: dict[str, Any] | None = None, seed: int = 0,
                input_stats: dict[str, list[float]] | None = None, **kw: Any) -> ModelBundle:
    """The one test model factory: a 4-band (B2, B3, B4, B8) bundle of ``arch`` with seeded weights
    (``input_stats``: training-input percentiles, e.g. :data:`S2_STATS`; None: an older bundle without)."""
    import torch

    from s2sr.archs import build_arch
    from s2sr.bands import DEFAULT_BANDS
    from s2sr.bundle import ModelBundle
    from s2sr.sensor import SensorModel

    torch.manual_seed(seed)
    kwargs = {"in_ch": 4, "scale": scale, **kw}
    return ModelBundle(arch=arch, arch_kwargs=kwargs, scale=scale, bands=list(DEFAULT_BANDS),
                       mean=np.full(4, mean, np.float32), std=np.full(4, std, np.float32),
                       module=build_arch(arch, **kwargs).eval(), sensor=SensorModel(scale), input_res=input_res,
                       metrics=dict(metrics or {}), input_stats=dict(input_stats or {}))


@pytest.fixture(scope="session")
def bundle_factory() -> Callable[..., ModelBundle]:
    """``bundle_factory(arch="bicubic", scale=4, mean=, std=, input_res=, metrics=, **arch_kwargs)``."""
    return make_bundle


@pytest.fixture
def bicubic_pt(tmp_path: Path) -> Path:
    """A saved bicubic x4 bundle (training resolution 10 m)."""
    return make_bundle().save(tmp_path / "bicubic.pt")


@pytest.fixture
def bicubic_model(tmp_path: Path) -> Callable[[int], Path]:
    """``bicubic_model(scale)``: a saved bicubic bundle of that scale (no training resolution)."""

    def make(scale: int = 4) -> Path:
        return make_bundle(scale=scale, mean=0.0, std=1000.0, input_res=None).save(tmp_path / f"bicubic_x{scale}.pt")

    return make


@pytest.fixture
def corrupt_block() -> Callable[..., Path]:
    """``corrupt_block(path, col=1, row=1)``: see :func:`_corrupt_block`."""
    return _corrupt_block


def _corrupt_block(path: Path, col: int = 1, row: int = 1) -> Path:
    """Overwrite the bytes of one internal tile of a tiled, compressed GeoTIFF (header stays readable).

    Like a bad download: the file opens and its first and last blocks read, but this block fails to decode.
    """
    with rasterio.open(path) as ds:
        off = int(ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(off)
        fh.write(b"\xff" * size)
    return path


# per-band p01/p50/p99 of Sentinel-2 L1C B2,B3,B4,B8 (x 10000), pooled over 16 OSCD cities
def textured_scene(n: int, seed: int, bands: int = 4) -> np.ndarray:
    """A seeded (bands, n, n) uint16 scene with texture up to the pixel scale, as a sensor sees the ground:
    a 1/f texture at 4x the pixels, degraded by the mtf0.3 member. (A random walk is so smooth that
    bicubic's own faint LR-grid image of it dominates the LR-grid spectral peak.)"""
    from s2sr.sensor import named

    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(4 * n)
    r = np.hypot(*np.meshgrid(f, f))
    spec = (rng.normal(size=(bands, 4 * n, 4 * n)) + 1j * rng.normal(size=(bands, 4 * n, 4 * n))) / np.maximum(r, 1 / n)
    fine = np.fft.ifft2(spec).real
    return named("mtf0.3").apply(1500 + 400 * fine / fine.std(), 4).astype("uint16")


S2_STATS = {"p01": [815.0, 700.0, 469.0, 537.0], "p50": [1247.0, 1160.0, 1161.0, 2216.0],
            "p99": [2772.0, 3114.0, 3856.0, 4329.0]}


@pytest.fixture
def install_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Factory: ``install_model(name, bundle=None, card="...", extra="")`` writes a registry folder
    (registry.toml, NAME.pt, NAME.md) under tmp_path and points ``S2SR_MODELS_DIR`` at it; returns it.

    Several calls add entries to the same registry. ``bundle=None``: :func:`make_bundle` with S2_STATS.
    """
    folder = tmp_path / "installed"
    folder.mkdir(exist_ok=True)
    (folder / "registry.toml").write_text("[models]\n")
    monkeypatch.setenv("S2SR_MODELS_DIR", str(folder))

    def _install(name: str, bundle: Any = None, card: str | None = "# card\n", extra: str = "") -> Path:
        (bundle or make_bundle(input_stats=S2_STATS)).save(folder / f"{name}.pt")
        if card is not None:
            (folder / f"{name}.md").write_text(card)
        with open(folder / "registry.toml", "a") as fh:
            fh.write(f'\n[models.{name}]\nfile = "{name}.pt"\n{extra}')
        return folder

    return _install


def _mount_tmpfs(path: Path, options: str) -> str | None:
    """Mount a tmpfs on ``path``; the reason it cannot be done, or None when mounted."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    return f"cannot mount a tmpfs here ({r.stderr.strip()})" if r.returncode else None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Factory ``small_disk(kib, name="disk")``: a real, tiny filesystem (tmpfs) that fills up (ENOSPC).

    Skips with the reason where a tmpfs cannot be mounted (not root, no mount permission).
    """
    mounted: list[Path] = []

    def _make(kib: int, name: str = "disk") -> Path:
        d = tmp_path / name
        d.mkdir()
        why = _mount_tmpfs(d, f"size={kib}k,mode=0777")
        if why:
            pytest.skip(why)
        mounted.append(d)
        return d

    yield _make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write into: a read-only tmpfs as root (root ignores modes), else mode 0555."""
    d = tmp_path / "readonly"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    why = _mount_tmpfs(d, "size=64k,ro")
    if why:
        pytest.skip(why)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def cli() -> Iterator[Callable[[list[str]], int]]:
    """``cli(argv)``: ``s2sr.cli.main.main(argv)`` logging to this test's captured stderr.

    pytest's log capture keeps a handler on the root logger during a test, so ``main()``'s
    ``basicConfig`` would not install its stderr handler and warning lines would never show in
    capsys/capfd: the root handlers are cleared before each call and restored after the test.
    """
    import logging

    from s2sr.cli.main import main

    root = logging.getLogger()
    saved = root.handlers[:]

    def _run(argv: list[str]) -> int:
        root.handlers.clear()
        return main(argv)

    yield _run
    root.handlers[:] = saved


# ---- Sentinel-2 products made on the fly: .SAFE folders and band folders ------------------------
S2_FILE_BANDS = ("B02", "B03", "B04", "B08")  # file-name spelling of B2, B3, B4, B8
MSI_IDS = {"B02": 1, "B03": 2, "B04": 3, "B08": 7}  # band_id in MTD_MSIL*.xml


def _jp2_available() -> bool:
    with rasterio.Env() as env:
        return "JP2OpenJPEG" in env.drivers()


JP2 = _jp2_available()  # without GDAL's JP2OpenJPEG driver, the fake products hold GeoTIFF band files


def s2_scene(shape: tuple[int, int, int] = (4, 96, 120), seed: int = 0) -> np.ndarray:
    """Seeded smooth (bands, h, w) uint16 reflectance x 10000, one range per band (B2 < B3 < B4 < B8)."""
    rng = np.random.default_rng(seed)
    b, h, w = shape
    base = rng.normal(size=(h, w)).cumsum(axis=0).cumsum(axis=1)
    base = (base - base.min()) / (np.ptp(base) + 1e-9)
    lows = np.array([600, 800, 700, 2000, 900, 1100][:b])
    spans = np.array([900, 1100, 1500, 2500, 1000, 1200][:b])
    noise = rng.integers(0, 60, size=(b, h, w))
    return (lows[:, None, None] + spans[:, None, None] * base[None] + noise).astype(np.uint16)


def write_band(path: Path, band: np.ndarray, crs: str | None = "EPSG:32631",
               origin: tuple[float, float] = (399960.0, 5000040.0), res: float = 10.0, **co: Any) -> Path:
    """One band as GeoTIFF (``.tif``) or lossless JPEG 2000 (``.jp2``), like a product's band file."""
    import rasterio.shutil

    h, w = band.shape
    prof = dict(width=w, height=h, count=1, dtype=str(band.dtype), crs=crs,
                transform=Affine(res, 0, origin[0], 0, -res, origin[1]))
    if path.suffix.lower() == ".jp2":
        with rasterio.MemoryFile() as mem:
            with mem.open(driver="GTiff", **prof) as ds:
                ds.write(band[None])
            rasterio.shutil.copy(mem.name, str(path), driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES")
    else:
        with rasterio.open(path, "w", driver="GTiff", **prof, **co) as ds:
            ds.write(band[None])
    return path


def mtd_xml(level: str, baseline: str, product: str, cloud: float = 12.5) -> str:
    """A minimal MTD_MSIL1C.xml / MTD_MSIL2A.xml with the elements s2sr reads (offsets from 04.00 on)."""
    off = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    offsets = "".join(f'<{off} band_id="{i}">-1000</{off}>' for i in range(13)) if float(baseline) >= 4 else ""
    wrap = ("<BOA_ADD_OFFSET_VALUES_LIST>{}</BOA_ADD_OFFSET_VALUES_LIST>" if level == "L2A"
            else "<Radiometric_Offset_List>{}</Radiometric_Offset_List>").format(offsets) if offsets else ""
    ptype = "S2MSI2A" if level == "L2A" else "S2MSI1C"
    return (f'<?xml version="1.0" encoding="UTF-8"?><n1:Level-{level[1:]}_User_Product '
            f'xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level[1:]}.xsd"><n1:General_Info>'
            f"<Product_Info><PRODUCT_START_TIME>2022-03-01T10:50:29.024Z</PRODUCT_START_TIME>"
            f"<PRODUCT_URI>{product}</PRODUCT_URI><PROCESSING_LEVEL>Level-{level[1:]}</PROCESSING_LEVEL>"
            f"<PRODUCT_TYPE>{ptype}</PRODUCT_TYPE><PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>"
            f'<Datatake datatakeIdentifier="GS2B_20220301T105029_026000_N{baseline}">'
            f"<SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME></Datatake></Product_Info>"
            f"<Product_Image_Characteristics>{wrap}</Product_Image_Characteristics></n1:General_Info>"
            f"<n1:Quality_Indicators_Info><Cloud_Coverage_Assessment>{cloud}</Cloud_Coverage_Assessment>"
            f"</n1:Quality_Indicators_Info></n1:Level-{level[1:]}_User_Product>")


@pytest.fixture
def make_safe(tmp_path: Path) -> Callable[..., tuple[Path, np.ndarray]]:
    """Factory ``make_safe(level="L2A", baseline="04.00", data=None, ...)`` -> (product folder, data B2,B3,B4,B8).

    A .SAFE tree in ESA's layout (L1C: IMG_DATA/T.._B02.jp2; L2A: IMG_DATA/R10m/T.._B02_10m.jp2, plus a
    20 m B02 that must not be picked) with MTD_MSIL*.xml; JPEG 2000 band files when GDAL writes them.
    """

    def _make(level: str = "L2A", baseline: str = "04.00", data: np.ndarray | None = None, seed: int = 0,
              crs: str | None = "EPSG:32631", origin: tuple[float, float] = (399960.0, 5000040.0),
              name: str | None = None) -> tuple[Path, np.ndarray]:
        data = s2_scene(seed=seed) if data is None else data
        n = baseline.replace(".", "")
        product = name or f"S2B_MSI{level}_20220301T105029_N{n}_R051_T31UDQ_20220301T121457.SAFE"
        root = tmp_path / product
        granule = root / "GRANULE" / f"{level}_T31UDQ_A026000_20220301T105531" / "IMG_DATA"
        ext = ".jp2" if JP2 else ".tif"
        img = granule / "R10m" if level == "L2A" else granule
        img.mkdir(parents=True)
        for i, b in enumerate(S2_FILE_BANDS):
            fname = f"T31UDQ_20220301T105029_{b}_10m{ext}" if level == "L2A" else f"T31UDQ_20220301T105029_{b}{ext}"
            write_band(img / fname, data[i], crs, origin)
        if level == "L2A":  # a 20 m B02 in its own folder: never the one read
            (granule / "R20m").mkdir()
            write_band(granule / "R20m" / f"T31UDQ_20220301T105029_B02_20m{ext}", data[0, ::2, ::2], crs, origin, 20.0)
        (root / f"MTD_MSI{level}.xml").write_text(mtd_xml(level, baseline, product))
        return root, data

    return _make


@pytest.fixture
def make_band_folder(tmp_path: Path) -> Callable[..., tuple[Path, np.ndarray]]:
    """Factory ``make_band_folder(names=("B02.tif", ...), data=None)`` -> (folder, data in the order of ``names``)."""

    def _make(names: tuple[str, ...] = ("B02.tif", "B03.tif", "B04.tif", "B08.tif"), data: np.ndarray | None = None,
              folder: str = "bands", seed: int = 0, **kw: Any) -> tuple[Path, np.ndarray]:
        data = s2_scene((len(names), 96, 120), seed) if data is None else data
        d = tmp_path / folder
        d.mkdir()
        for i, name in enumerate(names):
            write_band(d / name, data[i], **kw)
        return d, data

    return _make


@pytest.fixture
def s2_data() -> Callable[..., np.ndarray]:
    """:func:`s2_scene`: seeded (bands, h, w) uint16 Sentinel-2-like reflectance x 10000."""
    return s2_scene


@pytest.fixture
def band_writer() -> Callable[..., Path]:
    """:func:`write_band`: one band file (.tif or lossless .jp2) on a UTM grid."""
    return write_band
