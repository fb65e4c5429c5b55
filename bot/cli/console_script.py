"""The `aiusage` console script (and `python -m bot.cli`): the command line, quiet when the
reader of its output goes away, as `aiusage report | head -1` makes it."""

from __future__ import annotations

import os
import sys

from bot.cli.main import main as run_command

# What a shell reports for a tool the broken pipe's SIGPIPE ended (128 + 13), as `cat` or
# `grep` would give: under `set -o pipefail` it says "the reader stopped", which scripts
# already expect of a pipe, rather than 1, which here means refused or failed.
BROKEN_PIPE = 141


def main() -> int:
    """Run the command line; a reader gone away ends it quietly with BROKEN_PIPE. SIGPIPE
    itself stays ignored, as Python sets it: `serve` must outlive a client's closed socket."""
    try:
        code = run_command()
        sys.stdout.flush()  # inside the try: what is still buffered may meet the closed pipe
    except BrokenPipeError:
        # Python flushes stdout again at exit and would report the same error there.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    return code
