"""Benchmarks and the deterministic synthetic-tenant generator (not part of the test suite's pass/fail).

- ``python -m bench.run``: the cycle benchmark of the README's section Performance (``make bench``;
  generate.py, scenarios.py, capacity.py, faults.py, chaos.py, profiling.py, readme.py);
- ``python -m bench.graph_parse``: µs per user to parse a Graph page, raw JSON against typed models;
- ``python -m bench.graph_quota [SCALE] [WRITES]``: the write limiter against the emulator's budget;
- ``python -m bench.store_bulk [--rows N] [--backend sqlite|postgresql|both]``: the state store's bulk paths.
"""
