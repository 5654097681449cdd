"""tenantsync: Microsoft Entra cross-tenant synchronization as inspectable pipelines."""

__version__ = "0.1.0"
