"""The memory core's persistence: every SQL statement of the memory lives in this package.

    schema.py   tables, SCHEMA_VERSION and the migrations (one place)
    store.py    Store: the SQLite file (WAL, single writer, validation before any write), batched
                transactions, content-addressed keyframe files
    tables.py   Repository: the core's records in and out of the tables (load, commit, evidence reads)
    forget.py   run_forget: the one deliberate deletion of observations
"""
from .forget import ForgetResult, run_forget
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from .store import Store, dumps, keyframe_ref
from .tables import Repository

__all__ = ["ForgetResult", "run_forget", "APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "Store", "dumps",
           "keyframe_ref", "Repository"]
