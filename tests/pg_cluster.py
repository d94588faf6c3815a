"""A throwaway PostgreSQL cluster a test may stop and start: never the shared server.

`initdb` into a temporary directory, `pg_ctl` on a free loopback port, trust auth with a
superuser named as the test's own user. PostgreSQL refuses to run as root, so as root
the server runs as the `postgres` system user (else `nobody`), which owns the directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [
        p for p in [shutil.which(name)] if p]
    if not found:
        raise RuntimeError(f"{name} not found: install the PostgreSQL server package")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, root: Path, port: int, runner: list[str]) -> None:
        self.root, self.port, self._runner = root, port, runner
        self.data = root / "data"
        self.user = pwd.getpwuid(os.getuid()).pw_name

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self._runner, _bin("pg_ctl"), "-D", str(self.data), "-w", *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._ctl("-l", str(self.root / "log"), "-o",
                  f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off "
                  "-c shared_buffers=16MB -c max_connections=40", "start")

    def stop_command(self) -> list[str]:
        """The argv that stops the server at once (for a graph node to run)."""
        return [*self._runner, _bin("pg_ctl"), "-D", str(self.data), "-w", "-m",
                "immediate", "stop"]

    def stop(self) -> None:
        """Stop at once, as a crash or an operator's `pg_ctl stop -m immediate` would."""
        subprocess.run(self.stop_command(), check=True, capture_output=True, timeout=60)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="hitl-pg-"))
    runner: list[str] = []
    if os.getuid() == 0:
        owner = next((u for u in ("postgres", "nobody") if _user(u)), None)
        if owner is None:
            raise RuntimeError("no unprivileged user to run a throwaway PostgreSQL as")
        shutil.chown(root, owner)
        runner = ["runuser", "-u", owner, "--"]
    cluster = Cluster(root, _free_port(), runner)
    subprocess.run([*runner, _bin("initdb"), "-D", str(cluster.data), "-A", "trust",
                    "-U", cluster.user, "--no-sync", "--no-instructions"],
                   check=True, capture_output=True, timeout=120)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # the test stopped it
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def wait_until_accepting(cluster: Cluster, timeout: float = 30.0) -> float:
    """Block until the server accepts connections; the monotonic time it first did."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(cluster.url(), connect_timeout=2).close()
            return time.monotonic()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
