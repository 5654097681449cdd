"""Fixtures of the ops tests; the helpers live in opsworld.py (importable by the test modules)."""

from .opsworld import emulator, ops, smtp_sink  # noqa: F401
