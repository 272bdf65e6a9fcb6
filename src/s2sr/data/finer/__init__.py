"""``prepare --finer``: training targets from real finer images (aerial, VHR) at the model's output
pixel size, inputs drawn from the Sentinel-2 degradation family (:mod:`s2sr.sensor.family`)."""

from s2sr.data.finer.build import prepare_finer
from s2sr.data.finer.listing import FinerImage, FinerList, read_finer_list

__all__ = ["FinerImage", "FinerList", "prepare_finer", "read_finer_list"]
