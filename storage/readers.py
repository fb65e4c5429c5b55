"""A few SQLite connections kept checked out for the slash commands' shared reads
(`Database.reading_together`): checking one out of SQLAlchemy's pool and back in cost
`/aiusage top` a fifth of its own work, and `me` a sixth."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

# As many as answer at once in the steady state; past this, readers come from the pool as
# before. The engine's pool is made this much larger (`storage.engine`), so the rest of the
# process has as many connections as it had.
READERS_KEPT = 4


class KeptReaders:
    """Connections of `engine` kept between uses. A connection goes back only as it came:
    outside any transaction, not invalidated; anything else is closed, back to the pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # A pool that hands each thread its own connection (SQLite in memory) is left alone.
        self.keeps = isinstance(engine.pool, QueuePool)
        self._kept: list[Connection] = []

    def take(self) -> Connection:
        try:
            return self._kept.pop()  # atomic: two threads never take the same one
        except IndexError:
            return self.engine.connect()

    def give_back(self, conn: Connection, clean: bool) -> None:
        """Keep `conn` for the next reader when `clean` (its work ended without an error)
        and there is room; otherwise close it."""
        if (
            clean
            and self.keeps
            and not conn.invalidated
            and not conn.closed
            and not conn.in_transaction()
            and len(self._kept) < READERS_KEPT
        ):
            self._kept.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._kept:
            try:
                self._kept.pop().close()
            except IndexError:  # taken meanwhile
                break
