"""A throwaway PostgreSQL server for the tests, and a new database per store.

`initdb` and `pg_ctl` in a temp dir, listening on a unix socket only (no port to
collide with), fsync off (the data dies with the tests). initdb refuses to run as
root, so under root the server runs as the `postgres` user (Debian's package makes
it) or `nobody`. `.ci/run` installs Debian's package where the binaries are missing.

Set INDEXER_TEST_POSTGRES_URL to a server's maintenance database (a user that may
create databases) to use that server instead. With INDEXER_TEST_POSTGRES=required
(CI) a server that cannot be had fails the tests instead of skipping them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ENV_URL = "INDEXER_TEST_POSTGRES_URL"
ENV_REQUIRED = "INDEXER_TEST_POSTGRES"
SUPERUSER = "indexer"
SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class NoServer(Exception):
    """Why no PostgreSQL server could be had."""


def _bin_dir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's versioned folder (newest)."""
    on_path = shutil.which("pg_ctl")
    if on_path and Path(on_path).resolve().with_name("initdb").exists():
        return Path(on_path).resolve().parent
    debian = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if not debian:
        raise NoServer("initdb and pg_ctl not found (apt-get install postgresql)")

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.split("/")[4]))

    return Path(max(debian, key=version)).parent


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this user) unless this user is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise NoServer("running as root and neither a postgres nor a nobody user exists")


@dataclass
class Server:
    """A server to make databases on: `connect` gives psycopg's keyword arguments."""

    connect: dict[str, str]
    url_base: str  # a SQLAlchemy URL without its database
    folder: Path | None = None  # ours to stop and delete, if we started it
    bin_dir: Path | None = None
    user: pwd.struct_passwd | None = None
    _names: itertools.count = field(default_factory=itertools.count)

    def new_database(self, name: str = "store") -> str:
        """Create an empty database; its SQLAlchemy URL."""
        import psycopg

        database = f"test_{name}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(**self.connect, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')
        return self.url_base.replace("{database}", database)

    def stop(self) -> None:
        if self.folder is None:
            return
        _run([self.bin_dir / "pg_ctl", "stop", "-D", self.folder / "data", "-m", "immediate"], self)
        shutil.rmtree(self.folder, ignore_errors=True)


def _run(command: list, server: Server) -> subprocess.CompletedProcess:
    user = server.user
    return subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=server.folder,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        env={**os.environ, "HOME": str(server.folder)} if user else None,
    )


def start() -> Server:
    """A running server, ours or the one INDEXER_TEST_POSTGRES_URL names."""
    try:
        import psycopg  # noqa: F401 (only: is the driver there?)
    except ImportError as exc:
        raise NoServer("the psycopg driver is not installed (pip install -e '.[test]')") from exc
    if os.environ.get(ENV_URL):
        return _external(os.environ[ENV_URL])
    bin_dir, user = _bin_dir(), _server_user()
    # Not pytest's tmp dir: it is private to root, and the server may run as another user.
    folder = Path(tempfile.mkdtemp(prefix="indexer-pg-"))
    server = Server(
        connect={"host": str(folder), "user": SUPERUSER, "dbname": "postgres"},
        url_base=f"postgresql+psycopg://{SUPERUSER}@/{{database}}?host={folder}",
        folder=folder,
        bin_dir=bin_dir,
        user=user,
    )
    if user:
        os.chown(folder, user.pw_uid, user.pw_gid)
    data = folder / "data"
    steps = [
        [bin_dir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
        + ["--no-locale", "--no-sync"],
        [bin_dir / "pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", folder / "log"]
        + ["-o", " ".join([f"-k {folder}"] + [f"-c {k}={v}" for k, v in SETTINGS.items()])],
    ]
    for step in steps:
        done = _run(step, server)
        if done.returncode != 0:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            why = (done.stderr + done.stdout + log).strip().splitlines()[-3:]
            raise NoServer(f"{Path(step[0]).name} failed: {' / '.join(why)}")
    return server


def _external(url: str) -> Server:
    import psycopg
    from sqlalchemy import make_url

    parsed = make_url(url)
    connect = {
        k: str(v)
        for k, v in {
            "host": parsed.host or parsed.query.get("host"),
            "port": parsed.port,
            "user": parsed.username,
            "password": parsed.password,
            "dbname": parsed.database or "postgres",
        }.items()
        if v
    }
    base = parsed.set(drivername="postgresql+psycopg", database="DATABASE")
    url_base = base.render_as_string(hide_password=False).replace("/DATABASE", "/{database}", 1)
    try:
        psycopg.connect(**connect).close()
    except psycopg.Error as exc:
        raise NoServer(f"{ENV_URL} names a server that cannot be reached: {exc}") from exc
    return Server(connect=connect, url_base=url_base)
