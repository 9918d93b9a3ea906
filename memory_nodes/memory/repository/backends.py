"""Which store a configuration names: ``store.url`` sqlite:///... (or empty: SQLite at ``store.path``) ->
``Store``; postgresql://... -> ``PgStore`` (psycopg imported only then). Both have one interface: the
Repository, MemoryCore and forget use nothing else."""
from __future__ import annotations

from typing import cast

from ..config import StoreConfig
from .store import Store


def open_store(config: StoreConfig, read_only: bool = False, defer_writes: bool = False) -> Store:
    """The store ``config`` names, opened (StoreError: foreign, corrupt, locked, unreachable)."""
    config.validate()
    if config.backend == "postgresql":
        from .pg_store import PgStore
        return cast(Store, PgStore(config, read_only=read_only, defer_writes=defer_writes))   # same interface
    if config.url:
        config = StoreConfig(**{**config.__dict__, "path": config.sqlite_path(), "url": ""})
    return Store(config, read_only=read_only, defer_writes=defer_writes)
