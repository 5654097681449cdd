"""Fixtures of the user-source tests; the world and helpers live in usworld.py."""

from .usworld import admin, directory_url, emulator, outbox, smtp_sink, tenant  # noqa: F401
