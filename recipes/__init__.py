"""Recipes above the library: the five-fold comparison and the build of the bundled model.

They use :mod:`edgeemo.train` and :mod:`edgeemo.export`; nothing in the library imports them.
"""
