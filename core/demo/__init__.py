"""Deterministic demo data: the 恩施 prefecture with its 8 county branches, customers and 24 months of history."""
