"""EMO-SUPERB soft-label emotion recognition (``-d emotion``)."""
