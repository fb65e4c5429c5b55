"""`aiusage serve` under cProfile in every thread, for `AIUSAGE_BENCH_PROFILE=<dir>`: the
bench's servers then write `<dir>/serve-<pid>.pstats` when stopped (SIGTERM). Profiling
slows the server; read the proportions (CPU time per function), not the rates."""

from __future__ import annotations

import atexit
import cProfile
import os
import pstats
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bot.cli.main import main

profiles: list[cProfile.Profile] = []


def _profile_this_thread(*_args: Any) -> None:
    # threading calls this as the new thread's first profile event; cProfile then takes over.
    sys.setprofile(None)
    profile = cProfile.Profile(time.thread_time)  # CPU, not time spent waiting
    profiles.append(profile)
    profile.enable()


def _dump() -> None:
    for profile in profiles:
        profile.disable()
    out = Path(os.environ["AIUSAGE_BENCH_PROFILE"]) / f"serve-{os.getpid()}.pstats"
    pstats.Stats(*profiles).dump_stats(out)


if __name__ == "__main__":
    threading.setprofile(_profile_this_thread)
    _profile_this_thread()
    atexit.register(_dump)
    sys.exit(main())
