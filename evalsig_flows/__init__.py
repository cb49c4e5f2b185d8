"""Prefect flows around evalsig_core: fetch runs, doctor, gate, publish, promote.

This package holds no statistics, policy or formatting: it calls evalsig_core's public API.
"""

from .store import LocalStore, Store, open_store

__all__ = ["LocalStore", "Store", "open_store"]
