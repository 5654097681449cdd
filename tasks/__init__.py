"""Prefect tasks of tenantsync: engine stages at the granularity of a page or a batch.

Tasks take the live ``Cycle`` (or a configuration) as an argument, so they run in the flow's own
process and never hash their inputs (``cache_policy=NO_CACHE``). Retries cover transient Graph
failures only (``GraphError.retryable``), with exponential backoff and jitter.
"""
