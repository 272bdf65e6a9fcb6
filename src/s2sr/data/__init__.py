"""Dataset preparation: grid alignment, co-registration, harmonisation, sampling, split, store."""
