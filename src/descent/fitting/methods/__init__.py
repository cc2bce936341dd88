"""One module per fitting method; each defines ``METHOD`` (a :class:`~descent.fitting.registry.FitMethod`)."""
