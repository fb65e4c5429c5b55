"""Copilot's days fetched and parsed in a process of its own, for a long range (a backfill).

The sync process then only writes: the fetching, decoding and parsing run on the other core
instead of taking turns with the writer for the GIL (every SQLite statement lets go of the GIL
and then waits up to the switch interval to get it back from a busy fetching thread). The
child imports only HTTP, JSON and the parser (about 30 MB), never the database layer.

The protocol, parent to child: the settings as one pickled frame on stdin. Child to parent,
on stdout: frames of an 8-byte length and a pickle, each a `Batch` or `TeamMembers` in
the order `CopilotConnector.batches` yields them, then one `Ended`, or one `Failed`. A frame
is written whole only after its day is fetched and parsed whole, and the pipe holds little,
so the child is at most about one day ahead of the parent's reader. Pickles only ever cross
between this process and its own parent; the vendor's bytes are parsed here, in the child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import resource
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import bot
from jobs.connector_items import Batch, ConnectorError, TeamMembers
from storage.bounds import within_bounds
from storage.records import BadRow
from storage.report_rows import prepare

log = logging.getLogger(__name__)
_LENGTH = struct.Struct("<Q")
# Frames read from the child before this process asks for them: a group's worth and one
# (storage.connectors.GROUP_DAYS), so the child prepares the next group while this process
# writes the last one at its commit, instead of stalling two days in.
READ_AHEAD = 8


@dataclass(frozen=True)
class Recipe:
    """What the child needs to build the same connector: `CopilotConnector.build`'s
    arguments. Goes over the child's stdin, never its command line (the token)."""

    base_url: str
    token: str
    org: str | None
    enterprise: str | None
    today: date


@dataclass(frozen=True)
class Ended:
    """The child fetched every day it could; its own peak resident memory, in KiB."""

    peak_rss_kib: int


@dataclass(frozen=True)
class Failed:
    """The child stopped on an error; `message` is a ConnectorError's, safe to store."""

    message: str


def fetch_in_child(recipe: Recipe, first: date, last: date) -> Iterator[Batch | TeamMembers]:
    """`CopilotConnector.batches(first, last)`, run in a child process. A child that dies
    (killed, out of memory) fails the sync with a ConnectorError after the days it handed
    over, which the writer has stored whole; the next run fetches the rest again."""
    # The same code as this process's: the tree `bot` was imported from goes first on the
    # child's path, and the working directory not at all.
    tree = str(Path(bot.__file__).resolve().parent.parent)
    paths = os.pathsep.join(filter(None, [tree, os.environ.get("PYTHONPATH")]))
    child = subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": paths, "PYTHONSAFEPATH": "1"},
    )
    assert child.stdin is not None and child.stdout is not None
    # Frames are read as they come, a few ahead, so the child fetches the next day while
    # this process writes, even when a day costs it more than one to write (a frame is a
    # few hundred kilobytes of pickle).
    frames: queue.Queue[bytes | None] = queue.Queue(READ_AHEAD)
    reader = threading.Thread(
        target=_read_frames, args=(child.stdout, frames), name="copilot-child-reader", daemon=True
    )
    try:
        _write_frame(child.stdin, (recipe, first, last))
        child.stdin.close()
        reader.start()
        while True:
            frame = frames.get()
            item = None if frame is None else pickle.loads(frame)  # our own child's frames
            if item is None:
                code = child.wait()
                raise ConnectorError(f"Copilot's fetching process ended early (exit code {code})")
            if isinstance(item, Failed):
                raise ConnectorError(item.message)
            if isinstance(item, Ended):
                log.info("copilot: fetching process peak RSS %d MB", item.peak_rss_kib // 1024)
                child.wait()
                return
            yield item
    finally:
        # Left early (the writer failed, or the sync was stopped): the child goes too, and
        # the reader, which then meets the end of the pipe.
        if child.poll() is None:
            child.kill()
            child.wait()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                frames.get(timeout=0.1)
        child.stdout.close()


def _read_frames(source: IO[bytes], frames: queue.Queue[bytes | None]) -> None:
    """Each whole frame's pickle, then None at the end of the stream or a frame cut short."""
    try:
        while (frame := _read_raw(source)) is not None:
            frames.put(frame)
    finally:
        frames.put(None)


def _write_frame(out: IO[bytes], item: object) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    out.flush()


def _read_frame(source: IO[bytes]) -> Any:
    """The next item, or None at the end of the stream or a frame cut short."""
    frame = _read_raw(source)
    return None if frame is None else pickle.loads(frame)  # from our own parent


def _read_raw(source: IO[bytes]) -> bytes | None:
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    data = source.read(size)
    return data if len(data) == size else None


def _rows_of(item: Batch | TeamMembers, source: str, today: date) -> Batch | TeamMembers:
    """A batch with its rollup rows built here, off the writer's path, where it can be; its
    records kept to the bounds every door keeps first, as the writer keeps them."""
    if isinstance(item, Batch):
        checked = [
            record if isinstance(record, BadRow) else within_bounds(record, today)
            for record in item.items
        ]
        ready = prepare(checked, source, None, item.days, add_up=item.add_up)
        if ready is not None:
            prepared, bad = ready
            return Batch(item.days, bad, prepared, item.add_up)
        return Batch(item.days, checked, add_up=item.add_up)
    return item


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bot.connectors.copilot import CopilotConnector

    recipe, first, last = _read_frame(sys.stdin.buffer)
    out = sys.stdout.buffer
    connector = CopilotConnector.build(
        recipe.base_url,
        recipe.token,
        org=recipe.org,
        enterprise=recipe.enterprise,
        today=recipe.today,
    )
    try:
        for item in connector.batches_here(first, last):
            _write_frame(out, _rows_of(item, connector.name, recipe.today))
    except ConnectorError as exc:
        _write_frame(out, Failed(str(exc)))
        return 0
    except BrokenPipeError:
        return 0  # the parent is gone: nothing to hand the days to
    except Exception as exc:  # a bug or an unforeseen answer: named, as sync_one would
        log.exception("copilot: fetching process failed unexpectedly")
        _write_frame(out, Failed(f"unexpected error: {type(exc).__name__}"))
        return 1
    finally:
        connector.close()
    _write_frame(out, Ended(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    return 0


if __name__ == "__main__":
    # Run as imported, not as `__main__`: the frames' classes must pickle under the names
    # the parent reads them by.
    from bot.connectors.copilot_child import main as imported_main

    sys.exit(imported_main())
