"""The embedded bus (`local:///path/bus.sqlite`): a durable log in SQLite with consumer groups.

Each topic is one ordered partition, so per-key order holds trivially. A group's position in a
topic is its committed offset; a member holds a topic through a lease it renews on every poll, so a
second member of the group stands by and takes over when the first stops renewing (it crashed or
left), starting again after the last committed offset.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from shared.bus.port import CommitFailed, EventBus, Record, Subscription

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    published_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_topic ON records (topic, seq);
CREATE TABLE IF NOT EXISTS committed_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, committed INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
CREATE TABLE IF NOT EXISTS leases (
    grp TEXT NOT NULL, topic TEXT NOT NULL, member TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""


class LocalBus(EventBus):
    """A SQLite file shared by every process on the machine; WAL lets readers and one writer overlap."""

    def __init__(self, path: Path, session_timeout_s: float = 10.0):
        self.path = path
        self.session_timeout_s = session_timeout_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = _connect(path)
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> LocalBus:
        """`local:///abs/path/bus.sqlite[?session_timeout_s=10]`."""
        parsed = urlparse(url)
        path = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
        if not path:
            raise ValueError(f"bus URL {url!r} names no file; use local:///path/to/bus.sqlite")
        options = parse_qs(parsed.query)
        timeout = float(options.get("session_timeout_s", ["10"])[0])
        return cls(Path(path).resolve(), session_timeout_s=timeout)

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO records (topic, key, value, headers, published_at) VALUES (?, ?, ?, ?, ?)",
                (topic, key, value, json.dumps(headers or {}), time.time()),
            )

    def subscribe(self, group: str, topics: Iterable[str]) -> Subscription:
        return _LocalSubscription(self, group, sorted(set(topics)))

    def ping(self, timeout_s: float) -> None:
        # A connection of its own, so the probe neither waits for this bus's lock nor passes on an open handle to a
        # file since removed: the log must still open (read-write, never created) and read.
        probe = sqlite3.connect(f"{self.path.as_uri()}?mode=rw", uri=True, timeout=timeout_s, check_same_thread=False)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _run(self, fn):
        with self._lock, self._conn:
            return fn(self._conn)


class _LocalSubscription(Subscription):
    def __init__(self, bus: LocalBus, group: str, topics: list[str]):
        self._bus = bus
        self._group = group
        self._topics = topics
        self._member = uuid.uuid4().hex
        self._positions: dict[str, int] = {}  # topic → last offset handed out, for topics we hold

    def poll(self, timeout_s: float, max_records: int = 100) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while True:
            records = self._bus._run(lambda conn: self._poll_once(conn, max_records))
            if records or time.monotonic() >= deadline:
                return records
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _poll_once(self, conn: sqlite3.Connection, max_records: int) -> list[Record]:
        held = self._renew_leases(conn)
        records: list[Record] = []
        for topic in held:
            if len(records) >= max_records:
                break
            rows = conn.execute(
                "SELECT seq, key, value, headers FROM records WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (topic, self._positions[topic], max_records - len(records)),
            ).fetchall()
            for seq, key, value, headers in rows:
                records.append(Record(topic, 0, seq, key, bytes(value), json.loads(headers)))
            if rows:
                self._positions[topic] = rows[-1][0]
        return records

    def _renew_leases(self, conn: sqlite3.Connection) -> list[str]:
        now = time.time()
        expires = now + self._bus.session_timeout_s
        held = []
        for topic in self._topics:
            conn.execute(
                "INSERT OR IGNORE INTO leases (grp, topic, member, expires_at) VALUES (?, ?, ?, ?)",
                (self._group, topic, self._member, expires),
            )
            taken = conn.execute(
                "UPDATE leases SET member = ?, expires_at = ? WHERE grp = ? AND topic = ? AND (member = ? OR expires_at < ?)",
                (self._member, expires, self._group, topic, self._member, now),
            ).rowcount
            if taken:
                held.append(topic)
                if topic not in self._positions:
                    self._positions[topic] = _committed(conn, self._group, topic)
            else:
                self._positions.pop(topic, None)
        return held

    def commit(self, records: Sequence[Record]) -> None:
        last: dict[str, int] = {}
        for record in records:
            last[record.topic] = max(last.get(record.topic, 0), record.offset)
        if last:
            self._bus._run(lambda conn: self._commit(conn, last))

    def _commit(self, conn: sqlite3.Connection, last: dict[str, int]) -> None:
        for topic, offset in last.items():
            owner = conn.execute(
                "SELECT member FROM leases WHERE grp = ? AND topic = ?", (self._group, topic)
            ).fetchone()
            if owner is None or owner[0] != self._member:
                self._positions.pop(topic, None)
                raise CommitFailed(f"group {self._group} moved topic {topic} to another member; it will redeliver")
            conn.execute(
                "INSERT INTO committed_offsets (grp, topic, committed) VALUES (?, ?, ?) "
                "ON CONFLICT (grp, topic) DO UPDATE SET committed = max(committed, excluded.committed)",
                (self._group, topic, offset),
            )

    def lag(self) -> dict[str, int]:
        def count(conn: sqlite3.Connection) -> dict[str, int]:
            return {
                topic: conn.execute(
                    "SELECT count(*) FROM records WHERE topic = ? AND seq > ?",
                    (topic, _committed(conn, self._group, topic)),
                ).fetchone()[0]
                for topic in self._topics
            }

        return self._bus._run(count)

    def close(self) -> None:
        self._bus._run(
            lambda conn: conn.execute(
                "DELETE FROM leases WHERE grp = ? AND member = ?", (self._group, self._member)
            )
        )
        self._positions.clear()


def _committed(conn: sqlite3.Connection, group: str, topic: str) -> int:
    row = conn.execute(
        "SELECT committed FROM committed_offsets WHERE grp = ? AND topic = ?", (group, topic)
    ).fetchone()
    return row[0] if row else 0


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn
