"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` in a temporary folder, ``pg_ctl start``
listening on a unix socket in that folder only (no TCP port), stopped and removed afterwards.

    with ThrowawayServer() as pg:          # initdb + start (~1-2 s)
        url = pg.url("fleet")              # postgresql://fleet@/fleet?host=<socket folder>
        ...
        pg.kill9()                         # SIGKILL the postmaster (a crash, for fault tests)
        pg.start()                         # crash recovery from the WAL, same data folder

The binaries come from the distribution's package (Debian/Ubuntu: ``apt-get install postgresql``, which puts
them in /usr/lib/postgresql/<major>/bin); ``find_bin_dir()`` says where, or None (tests then skip, saying
why). initdb refuses to run as root: as root the server runs as the ``postgres`` system user the package
creates (``runuser -u postgres``), its folder handed to that user; as anyone else it runs as that user.
Authentication is ``trust`` on the socket, which lives in a 0700 folder: only the owner (and root) can reach
it. Durability settings are PostgreSQL's defaults (fsync on, synchronous_commit on): a commit that returned
survives a kill -9 of the server.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional


def find_bin_dir() -> Optional[str]:
    """The folder holding initdb and pg_ctl (PG_BIN, then PATH, then the newest /usr/lib/postgresql/*/bin)."""
    env = os.environ.get("PG_BIN")
    if env and os.path.exists(os.path.join(env, "initdb")):
        return env
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if
                   p.split("/")[-2].isdecimal() else 0, reverse=True)
    for c in cands:
        if os.path.exists(os.path.join(c, "initdb")) and os.path.exists(os.path.join(c, "pg_ctl")):
            return c
    w = shutil.which("initdb")
    if w and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(w))
    return None


def unavailable_reason() -> str:
    """Why a throwaway server cannot start here ("" if it can)."""
    if find_bin_dir() is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql "
                "(scripts/setup.sh does it when run as root), or PG_BIN=<folder>")
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as e:
        return f"psycopg 3 / psycopg_pool not installed ({e}): pip install -r requirements/dev.txt"
    if os.geteuid() == 0 and _user_uid("postgres") is None:
        return "running as root and no 'postgres' system user to run the server as (initdb refuses root)"
    return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _user_uid(name: str) -> Optional[int]:
    try:
        import pwd
        return pwd.getpwnam(name).pw_uid
    except (KeyError, ImportError):
        return None


class ThrowawayServer:
    """One PostgreSQL cluster in a temporary folder; ``start()`` / ``stop()`` / ``kill9()``; context manager."""

    def __init__(self, base_dir: Optional[str] = None, user: str = "fleet", settings: Optional[dict] = None):
        self.bin = find_bin_dir()
        why = unavailable_reason()
        if why:
            raise RuntimeError(why)
        # unix socket paths are limited to ~107 bytes: keep the folder short (under /tmp by default)
        self.root = Path(tempfile.mkdtemp(prefix="pg", dir=base_dir))
        self.data = self.root / "data"
        self.sock = self.root                      # socket folder
        self.log = self.root / "server.log"
        self.user = user
        self.port = 5432                           # names the socket file only: nothing listens on TCP
        # recovery_init_sync_method=syncfs: crash recovery starts by syncing the data folder; file by file
        # (the default) that alone took ~3 s here, syncfs does it per file system (Linux, PostgreSQL >= 14)
        self.settings = {"listen_addresses": "''", "max_connections": "200", "shared_buffers": "128MB",
                         "unix_socket_permissions": "0700", "recovery_init_sync_method": "syncfs"}
        self.settings.update(settings or {})
        self._run_as: List[str] = []
        if os.geteuid() == 0:
            uid = _user_uid("postgres")
            assert uid is not None
            os.chown(self.root, uid, -1)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.root, 0o700)
        self._initdb()

    def _cmd(self, *args: str) -> List[str]:
        return self._run_as + [os.path.join(str(self.bin), args[0]), *args[1:]]

    def _initdb(self) -> None:
        r = subprocess.run(self._cmd("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                                     "-E", "UTF8", "--no-locale", "--no-sync"),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {(r.stderr or r.stdout).strip()[-500:]}")
        with open(self.data / "postgresql.conf", "a") as f:
            for k, v in self.settings.items():
                f.write(f"{k} = {v}\n")
            f.write(f"unix_socket_directories = '{self.sock}'\nport = {self.port}\n")

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server (after a kill -9: crash recovery). Retries while the killed server's backends
        still hold its shared memory."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while True:
            r = subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t",
                                         str(int(max(5, timeout_s))), "start"),
                               capture_output=True, text=True, timeout=timeout_s + 30)
            if r.returncode == 0:
                return
            last = (r.stderr or r.stdout).strip()
            if time.monotonic() > deadline:
                tail = self.log.read_text()[-800:] if self.log.exists() else ""
                raise RuntimeError(f"pg_ctl start failed: {last[-300:]}\n{tail}")
            time.sleep(0.2)

    def stop(self, mode: str = "fast", wait: bool = True) -> None:
        """pg_ctl stop: ``fast`` (a clean shutdown, with its checkpoint) or ``immediate`` (no checkpoint:
        recovery on the next start)."""
        if self.postmaster_pid() is None:
            return
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w" if wait else "-W", "stop"),
                       capture_output=True, text=True, timeout=60)

    def postmaster_pid(self) -> Optional[int]:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def kill9(self) -> Optional[int]:
        """SIGKILL the postmaster (its backends notice and exit); returns the pid killed."""
        pid = self.postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            for _ in range(500):           # wait until it is gone (not our child: poll; a zombie is gone)
                if not _alive(pid):
                    break
                time.sleep(0.01)
        return pid

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.sock}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(self.url("postgres"), autocommit=True) as c:
            exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        """Stop the server without a checkpoint (``immediate``, not waited for: a backend blocked in an fsync
        of data about to be removed would hold it for seconds; the postmaster still removes its shared
        memory when its children are gone) and remove its folder."""
        self.stop("immediate", wait=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "ThrowawayServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
