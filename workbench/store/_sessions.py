"""Sessions: every run, candidate and result is written to SQLite as it completes.

One database file per directory (``.workbench/sessions.db`` beside the notebook by default).
WAL mode and one short transaction per write: a killed kernel loses nothing that finished,
and two kernels can write the same file.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._errors import SessionError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    entry TEXT,
    source TEXT,
    options TEXT,
    reference TEXT,
    status TEXT NOT NULL,
    owner_pid INTEGER,
    notes TEXT,
    accepted TEXT,
    created REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS candidates (
    run_id TEXT NOT NULL REFERENCES runs(id),
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT
);
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT NOT NULL,
    test TEXT NOT NULL,
    correct INTEGER,
    t REAL NOT NULL,
    PRIMARY KEY (run_id, test)
);
"""


_prepared: set[Path] = set()  # databases this process has already switched to WAL and migrated


def _prepare(con: sqlite3.Connection) -> None:
    """WAL mode and the schema, once per file and process. SQLite does not wait on its busy
    timeout while another process holds the lock for the journal-mode switch, so retry."""
    for attempt in range(200):
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            _migrate(con)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(min(0.5, 0.01 * (attempt + 1)))
    raise sqlite3.OperationalError("database is locked (gave up after 200 tries)")


# Columns added after the first release of a table: (table, column, SQL type).
_ADDED_COLUMNS = (("runs", "owner_pid", "INTEGER"),)


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a database written by an older workbench up to the current schema."""
    for table, column, kind in _ADDED_COLUMNS:
        present = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _live_status(status: str, owner_pid: int | None) -> str:
    """A run still marked running whose kernel is gone was interrupted (e.g. kill -9)."""
    if status == "running" and owner_pid and owner_pid != os.getpid():
        import psutil

        if not psutil.pid_exists(owner_pid):
            return "interrupted"
    return status


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


class SessionStore:
    """The session database at ``path`` (created on first write)."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path / "sessions.db" if path.suffix != ".db" else path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise SessionError(f"cannot open the session database {self.path}: {exc}") from None
        try:
            con.execute("PRAGMA synchronous=NORMAL")
            if self.path not in _prepared:
                _prepare(con)
                _prepared.add(self.path)
            yield con
        except sqlite3.DatabaseError as exc:
            raise SessionError(f"session database {self.path}: {exc}") from None
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------
    def new_run(self, kind: str, *, entry: str, source: str, options: dict[str, Any]) -> str:
        run_id = secrets.token_hex(4)
        with self._write() as con:
            con.execute(
                "INSERT INTO runs (id, kind, entry, source, options, status, owner_pid, created)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (run_id, kind, entry, source, _dumps(options), "running", os.getpid(), time.time()),
            )
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"reference", "status", "notes", "accepted", "finished"}
        if set(fields) - allowed:
            raise ValueError(f"unknown run fields {set(fields) - allowed}")
        values = [_dumps(v) if k in ("reference", "notes") else v for k, v in fields.items()]
        with self._write() as con:
            cols = ", ".join(f"{k} = ?" for k in fields)
            con.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values, run_id))

    @contextmanager
    def recording(self, run_id: str, notes: list[str]) -> Iterator[None]:
        """Mark the run finished when the block ends, interrupted when it raises (notes as
        they stand then)."""
        try:
            yield
        except BaseException:
            self.update_run(run_id, status="interrupted", notes=notes, finished=time.time())
            raise
        self.update_run(run_id, status="finished", notes=notes, finished=time.time())

    def add_candidate(self, run_id: str, candidate_id: str, record: dict[str, Any]) -> None:
        with self._write() as con:
            (seq,) = con.execute(
                "SELECT COUNT(*) FROM candidates WHERE run_id = ?", (run_id,)
            ).fetchone()
            con.execute(
                "INSERT OR REPLACE INTO candidates (run_id, id, seq, record, created) VALUES (?,?,?,?,?)",
                (run_id, candidate_id, seq, _dumps(record), time.time()),
            )

    def add_event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        with self._write() as con:
            con.execute(
                "INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                (run_id, time.time(), kind, _dumps(data)),
            )

    def set_label(self, run_id: str, test: str, correct: bool | None) -> None:
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO labels (run_id, test, correct, t) VALUES (?,?,?,?)",
                (run_id, test, None if correct is None else int(correct), time.time()),
            )

    # -- reading -----------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT r.id, r.kind, r.entry, r.status, r.created, r.accepted, r.owner_pid,"
                " (SELECT COUNT(*) FROM candidates c WHERE c.run_id = r.id), r.options"
                " FROM runs r ORDER BY r.created"
            ).fetchall()
        keys = (
            "id",
            "kind",
            "entry",
            "status",
            "created",
            "accepted",
            "owner_pid",
            "candidates",
            "options",
        )
        out = [dict(zip(keys, row)) for row in rows]
        for run in out:
            run["status"] = _live_status(run["status"], run.pop("owner_pid"))
            try:  # where an optimize run's inputs came from (example, history, inputs, ...)
                options = json.loads(run.pop("options") or "{}")
            except ValueError:
                options = {}
            run["inputs"] = options.get("inputs_source") or "" if isinstance(options, dict) else ""
        return out

    def run(self, run_id: str) -> dict[str, Any]:
        if not self.path.exists():
            raise SessionError(f"no sessions yet in {self.path.parent}")
        with self._connect() as con:
            row = con.execute(
                "SELECT id, kind, entry, source, options, reference, status, notes, accepted, created,"
                " finished, owner_pid"
                " FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                known = [
                    r[0] for r in con.execute("SELECT id FROM runs ORDER BY created DESC LIMIT 5")
                ]
                raise SessionError(
                    f"no session {run_id!r} in {self.path}; recent: {', '.join(known) or 'none'}"
                )
            cands = con.execute(
                "SELECT record FROM candidates WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
            labels = con.execute(
                "SELECT test, correct FROM labels WHERE run_id = ?", (run_id,)
            ).fetchall()
        keys = (
            "id",
            "kind",
            "entry",
            "source",
            "options",
            "reference",
            "status",
            "notes",
            "accepted",
            "created",
            "finished",
            "owner_pid",
        )
        out = dict(zip(keys, row))
        out["status"] = _live_status(out["status"], out.pop("owner_pid"))
        for key in ("options", "reference", "notes"):
            out[key] = json.loads(out[key]) if out[key] else None
        out["candidates"] = [json.loads(r[0]) for r in cands]
        out["labels"] = {t: (None if c is None else bool(c)) for t, c in labels}
        return out

    def accepted(self, run_id: str | None = None) -> tuple[str, str, str]:
        """(run id, candidate id, code) of the candidate accepted in ``run_id``, or in the
        newest run where one was accepted."""
        if run_id is None:
            chosen = [r["id"] for r in self.runs() if r["accepted"]]
            if not chosen:
                raise SessionError(
                    f"nothing was accepted yet in {self.path.parent}: accept a candidate first"
                    " (its Accept button, or result.accept())"
                )
            run_id = chosen[-1]
        accepted = self.run(run_id)["accepted"]
        if not accepted:
            raise SessionError(
                f"nothing was accepted in session {run_id}: accept a candidate first"
            )
        with self._connect() as con:
            row = con.execute(
                "SELECT record FROM candidates WHERE run_id = ? AND id = ?", (run_id, accepted)
            ).fetchone()
        code = json.loads(row[0]).get("code") if row else None
        if not code:
            raise SessionError(f"session {run_id} accepted {accepted}, but has no code for it")
        return run_id, accepted, code

    def events(self, run_id: str) -> list[dict[str, Any]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT t, kind, data FROM events WHERE run_id = ? ORDER BY t", (run_id,)
            ).fetchall()
        return [{"t": t, "kind": k, "data": json.loads(d) if d else None} for t, k, d in rows]
