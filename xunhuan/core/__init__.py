"""Django-free domain core: units, code validation, hashing and formulas.

Nothing in this package imports Django, so it can be used from benchmarks,
the optimizer and scripts without settings.
"""
