"""policyforge: search over programs for resource-management policies."""

__version__ = "0.1.0"
