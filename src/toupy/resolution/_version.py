"""The package version, defined here once (pyproject.toml reads it)."""

__version__ = "0.2.0.dev0"
