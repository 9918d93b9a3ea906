"""``memory-stack store check|recover PATH``: inspect a memory store without changing it, or copy what is
readable of a damaged one into a new store (the original is kept as it is).

    check PATH [--full]          read-only: header, schema version, quick_check (integrity_check with
                                 --full), meta, record load; prints one line, exit 0 (ok) or 1 (why not)
    recover PATH [--out NEW]     a new store at NEW (default PATH.recovered): every table of the schema,
                                 row by row where pages are damaged, plus the keyframe files its rows cite;
                                 prints rows copied / lost per table
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ...common.errors import StoreError
from ..config import StoreConfig
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from .store import Store


def check(path: str, full: bool = False) -> Tuple[bool, str]:
    """(ok, one line) for the store at ``path``; nothing is written."""
    from ..core import MemoryCore  # the record load is part of the check
    try:
        st = Store(StoreConfig(path=path, open_check="full" if full else "quick"), read_only=True)
    except StoreError as e:
        return False, str(e)
    try:
        mem = MemoryCore(store=None)
        mem._repo.store = st                 # a read-only repository over this store
        mem._load()
        s = mem.stats()
    except StoreError as e:
        return False, str(e)
    except Exception as e:                   # a record that does not load: damaged
        return False, f"{path}: damaged store: cannot load its records ({type(e).__name__}: {e})"
    finally:
        st.close()
    return True, (f"{path}: ok (schema {SCHEMA_VERSION}, {s.get('objects', 0)} objects, "
                  f"{s.get('observations', 0)} observations, {s.get('views', 0)} views)")


def _tables() -> List[str]:
    out = []
    for v in sorted(MIGRATIONS):
        for stmt in MIGRATIONS[v].split(";"):
            words = stmt.split()
            if len(words) > 2 and words[0].upper() == "CREATE" and words[1].upper() == "TABLE":
                out.append(words[2])
    return out


def _rows(src: sqlite3.Connection, table: str) -> Tuple[List[tuple], int]:
    """The readable rows of ``table`` (by rowid, skipping what fails) and how many rowids failed."""
    try:
        return src.execute(f"SELECT * FROM {table}").fetchall(), 0
    except sqlite3.DatabaseError:
        pass
    try:
        hi = int(src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        hi = 1 << 20
    rows, lost = [], 0
    step = 256
    for lo in range(0, hi + 1, step):
        try:
            rows += src.execute(f"SELECT * FROM {table} WHERE rowid >= ? AND rowid < ?", (lo, lo + step)).fetchall()
            continue
        except sqlite3.DatabaseError:
            pass
        for r in range(lo, lo + step):
            try:
                rows += src.execute(f"SELECT * FROM {table} WHERE rowid = ?", (r,)).fetchall()
            except sqlite3.DatabaseError:
                lost += 1
    return rows, lost


def recover(path: str, out: Optional[str] = None) -> Dict[str, Tuple[int, int]]:
    """Copy what is readable of ``path`` into a new store ``out``; table -> (rows copied, rowids lost)."""
    src_path = Path(path)
    dst_path = Path(out or f"{path}.recovered")
    if dst_path.exists():
        raise StoreError(f"{dst_path}: exists; choose another --out")
    wal = Path(f"{src_path}-wal").exists()
    src = sqlite3.connect(f"file:{src_path}?mode=ro" + ("" if wal else "&immutable=1"), uri=True)
    Store(StoreConfig(path=str(dst_path))).close()          # a new, empty store of this version
    dst = sqlite3.connect(str(dst_path), isolation_level=None)
    report: Dict[str, Tuple[int, int]] = {}
    try:
        dst.execute("BEGIN")
        for table in _tables():
            try:
                rows, lost = _rows(src, table)
            except sqlite3.DatabaseError:
                rows, lost = [], -1
            n = 0
            for r in rows:
                try:
                    dst.execute(f"INSERT OR REPLACE INTO {table} VALUES ({','.join('?' * len(r))})", r)
                    n += 1
                except sqlite3.Error:
                    lost += 1
            report[table] = (n, lost)
        dst.execute(f"PRAGMA application_id={APPLICATION_ID}")
        dst.execute("COMMIT")
        refs = [r for (r,) in dst.execute("SELECT ref FROM keyframes WHERE thinned = 0")]
    finally:
        src.close()
        dst.close()
    src_kf, dst_kf = Path(f"{src_path}.keyframes"), Path(f"{dst_path}.keyframes")
    copied = 0
    for ref in refs:
        f = src_kf / ref[:2] / f"{ref}.jpg"
        if f.is_file():
            (dst_kf / ref[:2]).mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst_kf / ref[:2] / f.name)
            copied += 1
    report["keyframe files"] = (copied, len(refs) - copied)
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="memory-stack store", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="inspect a store read-only (exit 1 if it would be refused)")
    c.add_argument("path")
    c.add_argument("--full", action="store_true", help="integrity_check instead of quick_check")
    r = sub.add_parser("recover", help="copy what is readable into a new store; the original is kept")
    r.add_argument("path")
    r.add_argument("--out", default=None, help="the new store (default PATH.recovered)")
    a = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not os.path.exists(a.path):
        print(f"{a.path}: no such file", file=sys.stderr)
        return 1
    if a.cmd == "check":
        ok, text = check(a.path, a.full)
        print(text)
        return 0 if ok else 1
    try:
        rep = recover(a.path, a.out)
    except (StoreError, sqlite3.Error, OSError) as e:
        print(f"recover failed: {e}", file=sys.stderr)
        return 1
    for table, (n, lost) in rep.items():
        print(f"{table:<22} {n:>8} copied {('' if lost <= 0 else f'{lost} lost'):>12}")
    print(f"new store: {a.out or a.path + '.recovered'} (the original is unchanged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
