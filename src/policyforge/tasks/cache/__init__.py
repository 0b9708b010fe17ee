"""The cache eviction task; importing it first lets compiled kernels load from a read-only tree (_jit)."""

from policyforge.tasks.cache import _jit  # noqa: F401  (before any kernel module decorates)
