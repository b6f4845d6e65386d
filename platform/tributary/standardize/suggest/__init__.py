"""Suggesting mappings from a raw table's names and values, and writing the accepted ones."""
