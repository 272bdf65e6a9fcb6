"""``s2sr fetch``: Sentinel-2 images from a STAC catalog (search, cloud choice, windowed read)."""
