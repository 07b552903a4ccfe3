"""The package's version, on its own so that every layer may name it."""

__version__ = "0.1.0"
