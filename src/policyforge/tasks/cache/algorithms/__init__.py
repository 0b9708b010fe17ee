"""Compiled (numba) baselines: each runs one whole trace and returns (misses, missed bytes)."""
