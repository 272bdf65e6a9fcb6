"""Training without co-located pairs: the HR -> Sentinel-2 degradation fitted from the data
(:mod:`.mtf`, :mod:`.noise`, :mod:`.radiometry`, :mod:`.bandmap`) and pseudo-pairs made with it."""
