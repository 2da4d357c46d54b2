"""A real PostgreSQL 15 server for the database-output tests (no mocks).

`pg_server` (session scope) runs initdb and pg_ctl in a temp folder, listening
only on a Unix socket there (no TCP port to collide with), creates a role with
a password and a database, and stops the server when the session ends. initdb
and pg_ctl refuse to run as root, so when the tests run as root (CI) they run
as the `postgres` user through runuser. Nothing is skipped: a server that
cannot start fails the test with the reason.

psql, the client the checks use, reads the result as CSV."""
import csv
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROLE = "scorer"
PASSWORD = "s3cr3t-Pa55-wörd"
DATABASE = "crm"


class PgServer:
    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = 5432

    # -- running server commands as the postgres user when we are root -------

    def _as_owner(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _check(self, argv, what):
        r = subprocess.run(self._as_owner(argv), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = self.sock / "server.log"
            log_text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            pytest.fail(f"PostgreSQL could not {what}: {' '.join(argv)} exited {r.returncode}\n"
                        f"{r.stdout}\n{r.stderr}\n{log_text}", pytrace=False)
        return r

    def start(self):
        for p in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / p).exists():
                pytest.fail(f"PostgreSQL 15 is not installed ({PG_BIN / p} missing): apt-get install postgresql",
                            pytrace=False)
        self.sock.mkdir(parents=True)
        self.data.mkdir()
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._check([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8"], "initialize a cluster")
        # Password authentication for the role the tests use, over the socket;
        # the superuser keeps trust for setup.
        hba = self.data / "pg_hba.conf"
        hba_text = f"local all postgres trust\nlocal all all scram-sha-256\n"
        if os.geteuid() == 0:
            subprocess.run(["runuser", "-u", "postgres", "--", "sh", "-c", f"cat > {hba}"], input=hba_text,
                           text=True, check=True)
        else:
            hba.write_text(hba_text)
        opts = f"-k {self.sock} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=50"
        self._check([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.sock / "server.log"),
                     "-w", "-t", "60", "start"], "start")
        self.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        self.admin(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        self.admin(f"CREATE SCHEMA analytics AUTHORIZATION {ROLE}", db=DATABASE)

    def stop(self):
        subprocess.run(self._as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)

    # -- clients -------------------------------------------------------------

    def url(self, with_password=True, db=DATABASE, user=ROLE):
        """A libpq URL for the socket folder (host= as a query parameter)."""
        auth = f"{user}:{PASSWORD}" if with_password else user
        return f"postgresql://{auth}@/{db}?host={self.sock}&port={self.port}"

    def admin(self, query, db="postgres"):
        r = subprocess.run(["psql", "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", query],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            pytest.fail(f"psql failed on {query!r}: {r.stderr}", pytrace=False)
        return r.stdout

    def query(self, query, db=DATABASE):
        """Rows of `query` as lists of strings (None for NULL), via psql --csv."""
        r = subprocess.run(["psql", "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-X", "-q", "--csv", "-P", "null=\\N", "-c", query],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"psql failed on {query!r}: {r.stderr}")
        rows = list(csv.reader(io.StringIO(r.stdout)))
        return [[None if v == "\\N" else v for v in row] for row in rows[1:]]


@pytest.fixture(scope="session")
def pg_server():
    root = tempfile.mkdtemp(prefix="ns-pg-")
    server = PgServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
