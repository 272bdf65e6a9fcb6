"""Raster I/O: opening with clear errors, grids, atomic outputs, COG writing."""
