"""Helpers shared by vmbench's tools and harness (import with tools/ on sys.path)."""
