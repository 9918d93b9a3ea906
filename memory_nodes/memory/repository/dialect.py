"""SQL dialects: the one place where SQLite and PostgreSQL differ.

The repository writes its statements once, in SQLite's dialect (the embedded default). ``to_postgres``
rewrites a statement for PostgreSQL, and ``postgres_ddl`` a migration; both are cached (statements are a
few dozen constants). The differences handled:

    placeholders     ``?``                          -> ``%s`` (and a literal ``%`` -> ``%%``)
    upserts          ``INSERT OR IGNORE``           -> ``INSERT ... ON CONFLICT DO NOTHING``
                     ``INSERT OR REPLACE``          -> ``INSERT ... ON CONFLICT (primary key) DO UPDATE SET
                                                       every other column = EXCLUDED.column``
                     ``ON CONFLICT ... DO UPDATE SET c = min(t.c, excluded.c)``: scalar min/max of two values
                                                    -> LEAST / GREATEST
    transactions     ``BEGIN IMMEDIATE``            -> ``BEGIN`` (the server's row locks do the rest)
    types (DDL)      INTEGER -> BIGINT (ns stamps need 64 bits; a one-column INTEGER PRIMARY KEY, SQLite's
                     rowid, an identity column), REAL -> DOUBLE PRECISION, BLOB -> BYTEA,
                     ``WITHOUT ROWID`` dropped
    file header      SQLite's application_id / user_version pragmas -> a one-row ``store_info`` table
    empty IN         statements never write ``WHERE 0``: callers write ``1=0`` (both dialects)
    pragmas          never rewritten: the PostgreSQL store does not issue them (server settings instead)
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, List, Tuple

from .schema import MIGRATIONS

_CREATE_TABLE = re.compile(r"CREATE TABLE\s+(\w+)\s*\((.*)\)", re.S | re.I)


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _split_top(body: str) -> List[str]:
    """Split a column list on commas outside parentheses."""
    out: List[str] = []
    cur: List[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


@lru_cache(maxsize=1)
def primary_keys() -> Dict[str, Tuple[str, ...]]:
    """table -> primary-key columns, read from the migrations (so a new table needs nothing here)."""
    keys: Dict[str, Tuple[str, ...]] = {}
    for v in sorted(MIGRATIONS):
        for stmt in _strip_comments(MIGRATIONS[v]).split(";"):
            m = _CREATE_TABLE.search(stmt)
            if not m:
                continue
            table, body = m.group(1), m.group(2)
            for part in _split_top(body):
                words = part.split()
                if part.upper().startswith("PRIMARY KEY"):
                    inner = part[part.index("(") + 1:part.rindex(")")]
                    keys[table] = tuple(c.strip() for c in inner.split(","))
                elif "PRIMARY KEY" in part.upper() and words:
                    keys[table] = (words[0],)
    return keys


_INSERT = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+(\w+)\s*\(([^)]*)\)(.*)$", re.S | re.I)
_MINMAX = re.compile(r"\b(min|max)\(([^(),]+),([^(),]+)\)", re.I)


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """A statement in the repository's (SQLite) dialect, rewritten for PostgreSQL."""
    s = sql.strip()
    if re.match(r"^BEGIN\s+IMMEDIATE$", s, re.I):
        return "BEGIN"
    m = _INSERT.match(s)
    if m:
        kind, table, cols, rest = m.group(1).upper(), m.group(2), m.group(3), m.group(4)
        head = f"INSERT INTO {table} ({cols}){rest}"
        if kind == "IGNORE":
            s = f"{head} ON CONFLICT DO NOTHING"
        else:
            pk = primary_keys().get(table)
            if not pk:
                raise ValueError(f"INSERT OR REPLACE into {table}: no primary key known")
            names = [c.strip() for c in cols.split(",")]
            others = [c for c in names if c not in pk]
            action = ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in others)) if others \
                else "DO NOTHING"
            s = f"{head} ON CONFLICT ({', '.join(pk)}) {action}"
    i = s.upper().find("DO UPDATE SET")
    if i >= 0 and "ON CONFLICT" in s.upper():
        tail = _MINMAX.sub(lambda mm: f"{'LEAST' if mm.group(1).lower() == 'min' else 'GREATEST'}"
                           f"({mm.group(2)},{mm.group(3)})", s[i:])
        s = s[:i] + tail
    return s.replace("%", "%%").replace("?", "%s")


@lru_cache(maxsize=64)
def postgres_ddl(sql: str) -> List[str]:
    """A migration's statements (SQLite DDL) for PostgreSQL."""
    out = []
    for stmt in _strip_comments(sql).split(";"):
        st = stmt.strip()
        if not st:
            continue
        st = re.sub(r"\)\s*WITHOUT\s+ROWID\s*$", ")", st, flags=re.I)
        # a one-column INTEGER PRIMARY KEY is SQLite's rowid: a row inserted without it gets the next one
        st = re.sub(r"\b(\w+) INTEGER PRIMARY KEY\b", r"\1 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", st)
        st = re.sub(r"\bINTEGER\b", "BIGINT", st)
        st = re.sub(r"\bREAL\b", "DOUBLE PRECISION", st)
        st = re.sub(r"\bBLOB\b", "BYTEA", st)
        out.append(st)
    return out
