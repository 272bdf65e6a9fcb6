"""Training: config (:mod:`.config`), data streaming (:mod:`.data`), validation
(:mod:`.validate`), checkpoints (:mod:`.checkpoint`) and the loop (:mod:`.run`)."""
