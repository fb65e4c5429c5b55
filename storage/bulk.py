"""The two statements on the ingest hot path, written per dialect for speed: PostgreSQL
takes rows by COPY into a staging table, SQLite many-row INSERTs and `executemany`.
Everything else goes through SQLAlchemy Core."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine

from storage.bounds import COST_DAY_CAP, DAY_CAP
from storage.driver import copy_rows
from storage.figures import NAMES, REPORTED, is_whole

# The figures as (column, PostgreSQL type) pairs, in the figures' order.
FIGURE_COLUMNS = tuple((name, "int8" if is_whole(name) else "float8") for name in NAMES)
EVENT_COLUMNS = (
    ("integration_id", "int8"),
    ("event_id", "text"),
    ("identity_id", "int8"),
    ("occurred_at", "timestamptz"),
    ("day", "date"),
    ("tool", "text"),
    ("kind", "text"),
    ("model", "text"),
    *FIGURE_COLUMNS,
    ("attributes", "json"),
    ("received_at", "timestamptz"),
)
DAILY_KEY = ("identity_id", "day", "tool", "kind", "origin")
DAILY_COLUMNS = (
    ("identity_id", "int8"),
    ("day", "date"),
    ("tool", "text"),
    ("kind", "text"),
    ("origin", "text"),
    *FIGURE_COLUMNS,
    ("events", "int8"),
)
# Most rows per INSERT on SQLite (powers of two): a rollup row's 15 parameters, and an event
# row's 19, stay below SQLite's limit of 32,766 a statement.
SQLITE_ROWS_PER_INSERT = 256
SQLITE_EVENT_ROWS = 1024
NULLABLE_SUMS = REPORTED  # summed keeping NULL (nobody reported) apart from 0


def insert_new_events(
    conn: Connection, prepared: Sequence[tuple[Any, ...]], origin: str
) -> set[str]:
    """Insert event rows (tuples in EVENT_COLUMNS order, from `storage.event_rows`),
    skipping (integration_id, event_id) pairs already stored,
    and add exactly the rows that went in to the daily rollup under `origin`; returns their
    event_ids. The database sums them from the rows just written, so each event is written
    once and summed once. On SQLite the caller holds the write lock."""
    if not prepared:
        return set()
    if conn.dialect.name == "postgresql":
        return _insert_new_events_pg(conn, prepared, origin)
    names = ", ".join(name for name, _ in EVENT_COLUMNS)
    before = inserted = start = 0
    for size in _sqlite_padded_chunks(len(prepared)):
        chunk, start = prepared[start : start + size], start + size
        # One statement for a batch, where it was six (500 rows went as 256 + 128 + … + 4),
        # each a release of Python's lock that a parsing thread could hold on to for up to
        # its switch interval. A chunk is padded to its statement's size with copies of its
        # last row, which the conflict clause skips: the same few texts serve every size.
        rows = [*chunk, *[chunk[-1]] * (_padded(len(chunk)) - len(chunk))]
        cursor = conn.exec_driver_sql(
            f"INSERT INTO usage_events ({names}) VALUES {_sqlite_rows(len(rows))} "
            "ON CONFLICT (integration_id, event_id) DO NOTHING",
            tuple(chain.from_iterable(rows)),
        )
        if cursor.rowcount > 0 and not inserted:
            # The write lock is ours, so the rows this call writes take the ids after the
            # largest, one by one: every id past `before` is one of them.
            before = cursor.lastrowid - cursor.rowcount
        inserted += cursor.rowcount
    if not inserted:
        return set()
    conn.exec_driver_sql(_rollup_from("usage_events", "?", where="id > ?"), (origin, before))
    if inserted == len(prepared):
        return {row[_EVENT_ID] for row in prepared}
    found = conn.exec_driver_sql("SELECT event_id FROM usage_events WHERE id > ?", (before,))
    return {row[0] for row in found}


def _insert_new_events_pg(
    conn: Connection, prepared: Sequence[tuple[Any, ...]], origin: str
) -> set[str]:
    """`insert_new_events` on PostgreSQL: the rows COPYed (binary) into this connection's
    staging table, then one statement inserts them, hands exactly the rows it wrote to the
    rollup upsert, and answers how many it wrote (their ids only when some were skipped)."""
    _stage_new_events(conn, prepared)
    found = conn.exec_driver_sql(_PG_INSERT_NEW, {"origin": origin, "count": len(prepared)})
    written, ids = found.one()
    if written == len(prepared):
        return {row[_EVENT_ID] for row in prepared}
    return set(ids or ())


def _stage_new_events(conn: Connection, prepared: Sequence[tuple[Any, ...]]) -> None:
    """COPY the rows into the staging table, made once per database connection (a temporary
    table lives as long as its connection). Its rows go at commit or rollback; they are
    deleted first only if this transaction staged rows already."""
    info = conn.info
    if not (info.get(_STAGING_MADE) or info.get(_STAGING_PENDING)):
        conn.exec_driver_sql(_PG_STAGING_TABLE)
        info[_STAGING_PENDING] = True  # made for good when this transaction commits
    if info.get(_STAGING_FILLED):
        conn.exec_driver_sql(f"DELETE FROM {NEW_EVENTS}")
    info[_STAGING_FILLED] = True
    try:
        # Binary: psycopg dumps each row in C without formatting text, about a third of the
        # CPU of a text COPY; the staging table's types are exactly the ones named here.
        copy_rows(conn, _PG_COPY_NEW, prepared, _EVENT_TYPES)
    except Exception:
        # Whatever went wrong, make the table again next time rather than trust it is there.
        info.pop(_STAGING_MADE, None)
        raise


def track_staging(engine: Engine) -> None:
    """Keep `_stage_new_events`' notes on each connection in step with its transactions:
    a table made in a transaction exists once that commits; staged rows are gone at its
    end either way."""

    # A connection the server dropped is invalidated: its notes, and its temporary table, go
    # with it (the pool clears `info` before reconnecting). Reading `info` on it would raise
    # PendingRollbackError from inside the rollback, hiding the OperationalError that says
    # the database is away, and a request that should be a 503 was a 500.
    @event.listens_for(engine, "commit")
    def _committed(conn: Connection) -> None:
        if conn.invalidated:
            return
        info = conn.info
        if info.pop(_STAGING_PENDING, False):
            info[_STAGING_MADE] = True
        info.pop(_STAGING_FILLED, None)

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Connection) -> None:
        if conn.invalidated:
            return
        conn.info.pop(_STAGING_PENDING, None)
        conn.info.pop(_STAGING_FILLED, None)


def _sqlite_chunks(count: int) -> list[int]:
    """Rows per INSERT for `count` rows: whole chunks of SQLITE_ROWS_PER_INSERT, then the rest
    by powers of two (500 = 256 + 128 + 64 + 32 + 16 + 4), so only a few statement texts
    exist to be prepared and cached, whatever the batch sizes."""
    sizes = [SQLITE_ROWS_PER_INSERT] * (count // SQLITE_ROWS_PER_INSERT)
    rest = count % SQLITE_ROWS_PER_INSERT
    return sizes + [1 << bit for bit in reversed(range(rest.bit_length())) if rest >> bit & 1]


def _sqlite_padded_chunks(count: int) -> list[int]:
    """Rows per INSERT of event rows, each chunk padded to a power of two (`_padded`): whole
    chunks of SQLITE_EVENT_ROWS, then the rest in one, or in a few where one would pad it by
    more than half."""
    sizes = [SQLITE_EVENT_ROWS] * (count // SQLITE_EVENT_ROWS)
    rest = count % SQLITE_EVENT_ROWS
    while rest:
        size = _padded(rest)
        if size - rest > rest // 2:
            size //= 2
        size = min(size, rest)
        sizes.append(size)
        rest -= size
    return sizes


def _padded(count: int) -> int:
    return 1 << (count - 1).bit_length()


@cache  # one text per size: a power of two up to SQLITE_EVENT_ROWS
def _sqlite_rows(count: int) -> str:
    """`(?, …), (?, …), …`: the VALUES of `count` event rows."""
    one = f"({', '.join('?' * len(EVENT_COLUMNS))})"
    return ", ".join([one] * count)


@cache  # one text per size _sqlite_chunks gives
def _sqlite_daily_rows(count: int, absent: Any = None) -> str:
    """`(?, …), (?, …), …`: the VALUES of `count` rollup rows."""
    one = f"({', '.join(_unless_absent(name, absent, '?') for name, _ in DAILY_COLUMNS)})"
    return ", ".join([one] * count)


def _rollup_from(source: str, origin: str, where: str = "") -> str:
    """An upsert adding the event rows of `source` to the rollup, summed per daily key in
    key order (a fixed order keeps concurrent PostgreSQL writers from deadlocking), each sum
    held at its cap like `upsert_daily`'s. SUM skips NULL and is NULL when all are: a figure
    nobody reported stays unreported."""
    group = [name for name in DAILY_KEY if name != "origin"]
    values = []
    for name, _ in DAILY_COLUMNS:
        if name == "origin":
            values.append(origin)
        elif name in DAILY_KEY:
            values.append(name)
        elif name == "events":
            values.append("count(*)")
        else:
            cap = repr(COST_DAY_CAP) if name == "cost_usd" else str(DAY_CAP)
            values.append(f"CASE WHEN sum({name}) > {cap} THEN {cap} ELSE sum({name}) END")
    names = ", ".join(name for name, _ in DAILY_COLUMNS)
    key = ", ".join(group)
    return (
        f"INSERT INTO usage_daily ({names}) SELECT {', '.join(values)} FROM {source} "
        f"WHERE {where or 'true'} GROUP BY {key} ORDER BY {key} {_adding_conflict()}"
    )


def _adding_conflict() -> str:
    sums = [name for name, _ in DAILY_COLUMNS if name not in DAILY_KEY]
    updates = ", ".join(f"{n} = {_saturating_sum(n)}" for n in sums)
    return f"ON CONFLICT ({', '.join(DAILY_KEY)}) DO UPDATE SET {updates}"


def upsert_daily(conn: Connection, rows: Sequence[dict[str, Any]], *, replace: bool) -> None:
    """Write rollup rows keyed by DAILY_KEY (each key once). Adds to what is there, keeping
    NULL for figures nobody reported; with `replace`, the new figures win instead."""
    if rows:
        upsert_daily_tuples(conn, _tuples(conn.dialect.name, rows, DAILY_COLUMNS), replace=replace)


def daily_day_form(dialect: str) -> Callable[[date], Any]:
    """How a rollup row's day goes into the tuples `upsert_daily_tuples` takes."""
    return date.isoformat if dialect == "sqlite" else _as_is


def upsert_daily_tuples(
    conn: Connection, prepared: Sequence[Sequence[Any]], *, replace: bool, absent: Any = None
) -> None:
    """`upsert_daily` for rows already in DAILY_COLUMNS order, their day in
    `daily_day_form`: for writers of many rows (vendor reports), which skip the dicts. With
    `absent` (ABSENT), the rows hold that for a figure nobody reported instead of None."""
    if not prepared:
        return
    names = [name for name, _ in DAILY_COLUMNS]
    sums = [name for name in names if name not in DAILY_KEY]
    if replace:
        updates = ", ".join(f"{name} = excluded.{name}" for name in sums)
        conflict = f"ON CONFLICT ({', '.join(DAILY_KEY)}) DO UPDATE SET {updates}"
    else:
        conflict = _adding_conflict()
    if conn.dialect.name == "postgresql":
        staged = _pg_stage(conn, "usage_daily", DAILY_COLUMNS, prepared)
        taken = ", ".join(_unless_absent(name, absent, name) for name in names)
        conn.exec_driver_sql(
            f"INSERT INTO usage_daily ({', '.join(names)}) SELECT {taken} FROM {staged} {conflict}"
        )
        return
    # Many rows per statement, not `executemany`: with the weekly-mark triggers on the table
    # every statement opens a statement journal, which copied each row's pages once more.
    start = 0
    for size in _sqlite_chunks(len(prepared)):
        chunk, start = prepared[start : start + size], start + size
        conn.exec_driver_sql(
            f"INSERT INTO usage_daily ({', '.join(names)}) "
            f"VALUES {_sqlite_daily_rows(size, absent)} {conflict}",
            tuple(chain.from_iterable(chunk)),
        )


def _unless_absent(name: str, absent: Any, value: str) -> str:
    """`value` for column `name`, NULL when it is `absent` (a reported figure's column)."""
    if absent is None or name not in NULLABLE_SUMS:
        return value
    return f"NULLIF({value}, {absent!r})"


def _saturating_sum(name: str) -> str:
    """The stored figure plus the new one, held at its cap (see `storage.bounds`). Compared
    before adding, so neither database ever computes a value past the cap."""
    cap = str(DAY_CAP) if is_whole(name) else repr(COST_DAY_CAP)
    old, new = f"usage_daily.{name}", f"excluded.{name}"
    total = f"CASE WHEN {old} > {cap} - {new} THEN {cap} ELSE {old} + {new} END"
    if name in NULLABLE_SUMS:
        return f"coalesce({total}, {old}, {new})"
    return total


def _pg_stage(
    conn: Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    prepared: Sequence[Sequence[Any]],
) -> str:
    """COPY rows into a session-local staging table emptied at commit; returns its name.
    COPY runs in psycopg's C code, where big parameter lists are dumped in Python."""
    staged = f"staged_{table}"
    names = ", ".join(name for name, _ in columns)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staged} ON COMMIT DELETE ROWS AS "
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    # ON COMMIT DELETE ROWS empties it only at commit: a second call in one transaction
    # must not apply the first call's rows again. DELETE, because TRUNCATE gives the table
    # a new file every time, which cost more than the rest of a batch's staging.
    conn.exec_driver_sql(f"DELETE FROM {staged}")
    copy_rows(conn, f"COPY {staged} ({names}) FROM STDIN", prepared)
    return staged


def _tuples(
    dialect: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]
) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order. JSON goes as text; on SQLite, datetimes and dates go
    in the text forms SQLAlchemy's SQLite types write and read back."""
    forms = _SQLITE_FORMS if dialect == "sqlite" else {"json": json.dumps}
    take = itemgetter(*(name for name, _ in columns))
    convert = [(i, forms[kind]) for i, (_, kind) in enumerate(columns) if kind in forms]
    if not convert:
        return [take(row) for row in rows]
    # A batch's rows share some values (received_at, often a day): each converted once.
    seen: list[tuple[Any, Any]] = [(None, None)] * len(columns)
    out = []
    for row in rows:
        values = list(take(row))
        for i, form in convert:
            value = values[i]
            if value is not None:
                last, formed = seen[i]
                if value is not last:
                    formed = form(value)
                    seen[i] = (value, formed)
                values[i] = formed
        out.append(tuple(values))
    return out


def _as_is(value: Any) -> Any:
    return value


def sqlite_datetime(value: datetime) -> str:
    """A moment in the text form SQLAlchemy's SQLite DateTime writes and reads back."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop the "+00:00"


_SQLITE_FORMS: dict[str, Callable[[Any], Any]] = {
    "timestamptz": sqlite_datetime,
    "date": date.isoformat,
    "json": json.dumps,
}
_EVENT_ID = [name for name, _ in EVENT_COLUMNS].index("event_id")

# The event rows' staging table on PostgreSQL, one per connection (see _stage_new_events),
# and what this module notes about it in the connection's `info`.
NEW_EVENTS = "aiusage_new_events"
_STAGING_MADE = "aiusage_new_events_made"
_STAGING_PENDING = "aiusage_new_events_pending"
_STAGING_FILLED = "aiusage_new_events_filled"
# JSON is staged as the text it already is: psycopg's binary json dumper would encode the
# text again, as a JSON string. The insert casts it back.
_EVENT_TYPES = ["text" if kind == "json" else kind for _, kind in EVENT_COLUMNS]
_STAGED_COLUMNS = zip([name for name, _ in EVENT_COLUMNS], _EVENT_TYPES, strict=True)
_PG_STAGING_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {NEW_EVENTS} "
    f"({', '.join(f'{name} {kind}' for name, kind in _STAGED_COLUMNS)}) ON COMMIT DELETE ROWS"
)
_PG_COPY_NEW = (
    f"COPY {NEW_EVENTS} ({', '.join(name for name, _ in EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)


def _pg_insert_new() -> str:
    names = ", ".join(name for name, _ in EVENT_COLUMNS)
    staged = ", ".join(f"{name}::json" if kind == "json" else name for name, kind in EVENT_COLUMNS)
    summed = [name for name, _ in DAILY_COLUMNS if name not in DAILY_KEY and name != "events"]
    returned = ", ".join(["event_id", *(n for n in DAILY_KEY if n != "origin"), *summed])
    return (
        f"WITH new AS (INSERT INTO usage_events ({names}) SELECT {staged} FROM {NEW_EVENTS} "
        # partitioned by day (0120_replicas): the key holds the day, which a resent
        # event shares, as the day is its occurred_at's
        f"ON CONFLICT (integration_id, event_id, day) DO NOTHING RETURNING {returned}), "
        f"daily AS ({_rollup_from('new', '%(origin)s::text')}) "
        # the ids only when some rows were skipped: usually all went in
        "SELECT count(*), CASE WHEN count(*) < %(count)s THEN array_agg(event_id) END FROM new"
    )


_PG_INSERT_NEW = _pg_insert_new()
