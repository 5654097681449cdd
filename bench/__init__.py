"""Benchmarks and the deterministic synthetic-tenant generator (not part of the test suite's pass/fail)."""
