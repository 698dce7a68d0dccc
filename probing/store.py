"""The shared workspace (stable import path); it lives in :mod:`probing.io.store`."""

from probing.io.store import DatasetEntry, LostFile, ResultEntry, StoredResult, Workspace

__all__ = ["DatasetEntry", "LostFile", "ResultEntry", "StoredResult", "Workspace"]
