"""The memory core's persistence: every SQL statement of the memory lives in this package.

    schema.py   tables, SCHEMA_VERSION and the migrations (one place)
    backends.py open_store: the store ``store.url`` names (SQLite by default, PostgreSQL for a server)
    dialect.py  the SQL differences between the two, in one place
    pg_store.py PgStore: the same interface, schema and migrations on PostgreSQL (psycopg 3, a pool)
    pg_server.py ThrowawayServer: initdb + pg_ctl in a temp folder, for tests and benchmarks
    fleet.py    robots sharing one server: fleet tables (robot_id on every row), an outbox shipper per
                robot (rows, forgets, room names), cross-robot reads
    fleet_view.py FleetView: one robot's cross-robot questions, with its own memory as the fallback
    store.py    Store: the SQLite file (WAL, single writer, validation before any write), batched
                transactions, content-addressed keyframe files
    tables.py   Repository: the core's records in and out of the tables (load, commit, evidence reads)
    forget.py   run_forget: the one deliberate deletion of observations
"""
from .backends import open_store
from .forget import ForgetResult, run_forget
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from .store import Store, dumps, keyframe_ref
from .tables import Repository

__all__ = ["ForgetResult", "run_forget", "APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "Store", "dumps",
           "keyframe_ref", "Repository", "open_store"]
