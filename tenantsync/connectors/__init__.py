"""Connectors: the only code that talks to a tenant (Graph) or to an application directory (SQL)."""
