"""SQLite storage of one sandbox portal: entity tables, reference data and metadata.

One connection guarded by a re-entrant lock serves every thread of the HTTP server; bulk loading
goes through :class:`BulkWriter`, which buffers rows and flushes them with ``executemany`` so a
portal of millions of rows is written without holding it in memory.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .schema import ENTITIES, INDEXES, Entity

_META_SQL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)"
_REFERENCE_SQL = (
    "CREATE TABLE IF NOT EXISTS reference (kind TEXT, position INTEGER, body TEXT, "
    "PRIMARY KEY (kind, position))"
)


class Store:
    """A portal's SQLite database with thread-safe access."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA temp_store=FILE")
        self.conn.execute("PRAGMA cache_size=-65536")

    def create_schema(self) -> None:
        """Create all tables (indexes come later, after bulk loading)."""
        with self.lock:
            self.conn.execute(_META_SQL)
            self.conn.execute(_REFERENCE_SQL)
            for entity in ENTITIES.values():
                self.conn.execute(entity.create_sql())

    def create_indexes(self) -> None:
        """Create secondary indexes used by list filters."""
        with self.lock:
            for statement in INDEXES:
                self.conn.execute(statement)

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically under the store lock."""
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row | tuple]:
        """Run a read query and return all rows."""
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one write statement."""
        with self.lock:
            self.conn.execute(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query returning one value."""
        with self.lock:
            row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # --- metadata and reference data ------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable metadata value."""
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Read a metadata value."""
        raw = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if raw is None else json.loads(raw)

    def put_reference(self, kind: str, items: Sequence[dict[str, Any]]) -> None:
        """Replace the reference rows of ``kind`` (users, departments, statuses, categories)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM reference WHERE kind = ?", (kind,))
            conn.executemany(
                "INSERT INTO reference (kind, position, body) VALUES (?, ?, ?)",
                [(kind, i, json.dumps(item, ensure_ascii=False)) for i, item in enumerate(items)],
            )

    def reference(self, kind: str) -> list[dict[str, Any]]:
        """Reference rows of ``kind`` in stored order."""
        rows = self.query("SELECT body FROM reference WHERE kind = ? ORDER BY position", (kind,))
        return [json.loads(row[0]) for row in rows]

    # --- entity rows ----------------------------------------------------------------------------
    def get_row(self, entity: Entity, row_id: int) -> dict[str, Any] | None:
        """Stored row of ``entity`` with ``row_id`` as a column dict, or ``None``."""
        cols = entity.columns
        quoted = ", ".join(f'"{c}"' for c in cols)
        with self.lock:
            row = self.conn.execute(
                f"SELECT {quoted} FROM {entity.table} WHERE ID = ?",  # noqa: S608 - names from schema
                (row_id,),
            ).fetchone()
        return None if row is None else dict(zip(cols, row, strict=True))

    def insert_row(self, entity: Entity, values: dict[str, Any]) -> int:
        """Insert one row (``ID`` assigned by SQLite when absent) and return its ID."""
        cols = [c for c in entity.columns if c in values]
        quoted = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        with self.lock:
            cursor = self.conn.execute(
                f"INSERT INTO {entity.table} ({quoted}) VALUES ({marks})",  # noqa: S608
                [values[c] for c in cols],
            )
        return int(cursor.lastrowid or 0)

    def update_row(self, entity: Entity, row_id: int, values: dict[str, Any]) -> None:
        """Update columns of one row."""
        if not values:
            return
        sets = ", ".join(f'"{c}" = ?' for c in values)
        with self.lock:
            self.conn.execute(
                f"UPDATE {entity.table} SET {sets} WHERE ID = ?",  # noqa: S608
                [*values.values(), row_id],
            )

    def delete_row(self, entity: Entity, row_id: int) -> None:
        """Delete one row."""
        with self.lock:
            self.conn.execute(f"DELETE FROM {entity.table} WHERE ID = ?", (row_id,))  # noqa: S608

    def count(self, entity: Entity) -> int:
        """Number of rows of ``entity``."""
        return int(self.scalar(f"SELECT COUNT(*) FROM {entity.table}"))  # noqa: S608

    def digest(self) -> str:
        """SHA-256 over every stored row in a fixed order (equal portals give equal digests)."""
        sha = hashlib.sha256()
        with self.lock:
            for row in self.conn.execute(
                "SELECT kind, position, body FROM reference ORDER BY 1, 2"
            ):
                sha.update(repr(row).encode())
            for entity in ENTITIES.values():
                cursor = self.conn.execute(f"SELECT * FROM {entity.table} ORDER BY ID")  # noqa: S608
                for row in cursor:
                    sha.update(repr(row).encode())
        return sha.hexdigest()

    def copy_to(self, target: Path) -> None:
        """Write a consistent copy of the database to ``target``."""
        with self.lock:
            dest = sqlite3.connect(target)
            try:
                self.conn.backup(dest)
            finally:
                dest.close()

    def restore_from(self, source: Path) -> None:
        """Replace the whole database content with the content of ``source``."""
        with self.lock:
            src = sqlite3.connect(source)
            try:
                src.backup(self.conn)
            finally:
                src.close()


class BulkWriter:
    """Buffer rows per entity and insert them in chunks with ``executemany``."""

    def __init__(self, store: Store, chunk: int = 5000) -> None:
        self.store = store
        self.chunk = chunk
        self._buffers: dict[str, list[tuple[Any, ...]]] = {}
        self._sql: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def add(self, entity: Entity, row: Sequence[Any]) -> None:
        """Queue one row given in ``entity.columns`` order."""
        buffer = self._buffers.setdefault(entity.name, [])
        buffer.append(tuple(row))
        self.counts[entity.name] = self.counts.get(entity.name, 0) + 1
        if len(buffer) >= self.chunk:
            self._flush(entity)

    def _flush(self, entity: Entity) -> None:
        buffer = self._buffers.get(entity.name)
        if not buffer:
            return
        sql = self._sql.get(entity.name)
        if sql is None:
            cols = entity.columns
            quoted = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" for _ in cols)
            sql = f"INSERT INTO {entity.table} ({quoted}) VALUES ({marks})"  # noqa: S608
            self._sql[entity.name] = sql
        with self.store.transaction() as conn:
            conn.executemany(sql, buffer)
        buffer.clear()

    def flush(self) -> None:
        """Write every buffered row."""
        for name in list(self._buffers):
            self._flush(ENTITIES[name])
