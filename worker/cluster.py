"""The embedded PostgreSQL cluster, used when ``DATABASE_URL`` is not set.

A private cluster lives under ``$OPS_HOME`` (default ``./.ops``): created with the machine's
PostgreSQL 15 binaries, listening on 127.0.0.1 and a private socket, password-protected (the
generated password stays in ``$OPS_HOME``, mode 0600). PostgreSQL refuses to run as root, so when
invoked as root the server runs as the ``postgres`` OS user. If that user cannot enter ``$OPS_HOME``
(a checkout under root's private ``/root``, say), the server's files (data, socket, log) go to a folder
of its own under its home, ``~postgres/ops-clusters/<hash of $OPS_HOME>``; ``$OPS_HOME/cluster.json``
records where.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from worker import ROOT
from worker.errors import OpsError, Unavailable
from worker.queries import execute, q

DATABASE = "ops"  # worker/queries/cluster.sql creates it under this name
SUPERUSER = "postgres"

PG_MAJOR = "15"
# A refused statement (say, an INSERT whose literal holds a token) is never written to the server log:
# no STATEMENT line, and no DETAIL (a constraint's "Failing row contains (...)").
PRIVATE_LOG_SETTINGS = ("log_min_error_statement = panic", "log_error_verbosity = terse")


def _bindir() -> Path:
    """PostgreSQL 15's binaries (the version the project targets), even when others are installed."""
    explicit = os.environ.get("OPS_PG_BINDIR")
    path = Path(explicit) if explicit else Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (path / "pg_ctl").exists():
        return path
    raise Unavailable(f"PostgreSQL {PG_MAJOR} binaries not found in {path} "
                      f"(install postgresql-{PG_MAJOR}, or set OPS_PG_BINDIR or DATABASE_URL)")


@dataclass
class Cluster:
    """The embedded cluster under ``home``."""

    home: Path

    @classmethod
    def default(cls) -> Cluster:
        return cls(Path(os.environ.get("OPS_HOME", ROOT / ".ops")).resolve())

    @property
    def server_root(self) -> Path:
        """Where the server's own files live: ``home``, or a folder the server's OS user can reach."""
        recorded = self.settings().get("server_root")
        if recorded:
            return Path(recorded)
        owner = self._owner()
        if owner is None or self._reachable(owner, self.home):
            return self.home
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
        return Path(pwd.getpwnam(owner).pw_dir) / "ops-clusters" / digest

    @property
    def data(self) -> Path:
        return self.server_root / "pg"

    @property
    def socket_dir(self) -> Path:
        return self.server_root / "run"

    @property
    def log_file(self) -> Path:
        """The server's log: in a folder of mode 0700, itself mode 0600 (it may quote refused input)."""
        return self.server_root / "log" / "postgres.log"

    @property
    def settings_file(self) -> Path:
        return self.home / "cluster.json"

    def settings(self) -> dict:
        return json.loads(self.settings_file.read_text()) if self.settings_file.exists() else {}

    def url(self, dbname: str = DATABASE) -> str:
        s = self.settings()
        if not s:
            raise Unavailable(f"no embedded cluster in {self.home}: run `ops db up` (or set DATABASE_URL)")
        return f"postgresql://{SUPERUSER}:{quote(s['password'], safe='')}@127.0.0.1:{s['port']}/{dbname}"

    # -- running things as the cluster's OS user --------------------------------------------------
    def _owner(self) -> str | None:
        """The OS user the server runs as: ``postgres`` when we are root, else ourselves."""
        return "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(_bindir() / args[0]), *args[1:]]
        owner = self._owner()
        if owner:
            cmd = ["runuser", "-u", owner, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check)

    @staticmethod
    def _reachable(owner: str, path: Path) -> bool:
        """Whether ``owner`` can enter ``path`` (or, if it does not exist yet, its nearest parent)."""
        while not path.exists():
            path = path.parent
        return subprocess.run(["runuser", "-u", owner, "--", "test", "-x", str(path)],
                              capture_output=True).returncode == 0

    def _chown(self, path: Path) -> None:
        owner = self._owner()
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # -- lifecycle ---------------------------------------------------------------------------------
    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def init(self, *, fast: bool = False) -> None:
        """Create the cluster once. ``fast`` trades durability for speed (tests only)."""
        if (self.data / "PG_VERSION").exists():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        root = self.server_root
        if root != self.home:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chown(root)
        for path in (self.data, self.socket_dir):
            path.mkdir(mode=0o700, exist_ok=True)
            self._chown(path)
        password = secrets.token_urlsafe(24)
        pwfile = root / "initdb.pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            result = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=scram-sha-256",
                               f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise OpsError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        port = _free_port()
        conf = [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 200",
            "shared_buffers = 128MB",
            "log_min_messages = warning",
            *PRIVATE_LOG_SETTINGS,
        ]
        if fast:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data / "postgresql.auto.conf", "a") as f:
            f.write("\n".join(conf) + "\n")
        self.settings_file.write_text(json.dumps({"port": port, "password": password, "server_root": str(root)}))
        self.settings_file.chmod(0o600)

    def start(self) -> None:
        if self.running():
            return
        log = self.log_file
        log.parent.mkdir(mode=0o700, exist_ok=True)
        log.parent.chmod(0o700)
        self._chown(log.parent)
        log.touch(mode=0o600)
        log.chmod(0o600)
        legacy = self.server_root / "postgres.log"  # where the log was before it had its own folder
        if legacy.exists():
            legacy.chmod(0o600)
        self._chown(log)
        # The settings also on the command line, so a cluster created before them gets them too.
        options = " ".join(f"-c {line.replace(' = ', '=')}" for line in PRIVATE_LOG_SETTINGS)
        result = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(log),
                           "-o", options, check=False)
        if result.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise Unavailable("PostgreSQL did not start: " + " | ".join(tail or [result.stderr.strip()]))
        self._ensure_database()

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.server_root, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not execute(conn, "cluster", "database_exists", {"name": DATABASE}).fetchone():
                conn.execute(q("cluster", "create_database"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
