"""A host on the other end of a virtual cable (a Linux network namespace joined by a veth
pair) that can vanish: its address goes, and packets sent to it are dropped without a word,
as when a database server dies or fails over. Needs root and iproute2's `ip`."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000


class VanishingHost:
    """An address that answers until `vanish()` and again after `come_back()`."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address

    def socket(self) -> socket.socket:
        """A TCP socket inside the host, which keeps belonging to it whatever thread uses it."""
        made: list[socket.socket | OSError] = []

        def enter_and_make() -> None:
            # setns moves only the calling thread, so a thread of its own does it and ends.
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    made.append(OSError(errno, os.strerror(errno)))
                    return
            finally:
                os.close(fd)
            made.append(socket.socket())

        thread = threading.Thread(target=enter_and_make)
        thread.start()
        thread.join()
        [result] = made
        if isinstance(result, OSError):
            raise result
        return result

    def vanish(self) -> None:
        _ip("-netns", self.name, "addr", "del", f"{self.address}/30", "dev", "db0")

    def come_back(self) -> None:
        _ip("-netns", self.name, "addr", "add", f"{self.address}/30", "dev", "db0")


def can_make_hosts() -> str | None:
    """Why this machine cannot make a vanishing host, or None when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "making a network namespace needs root"
    if shutil.which("ip") is None:
        return "making a network namespace needs iproute2's ip"
    probe = f"aiusage-probe-{os.getpid()}"
    try:  # root in a container may still lack the right to
        _ip("netns", "add", probe)
    except OSError as refused:
        return f"cannot make a network namespace here: {refused}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


@contextmanager
def vanishing_host() -> Iterator[VanishingHost]:
    """A host of this process's own, named and addressed by its pid so that test workers
    side by side never meet, removed with everything in it on the way out."""
    pid = os.getpid()
    name, near = f"aiusage-{pid}", f"aiu{pid}"
    base = 4 * (pid % 16_000)  # a /30 of 10.214.0.0/16 per process
    here = f"10.214.{base // 256}.{base % 256 + 1}"
    there = f"10.214.{base // 256}.{base % 256 + 2}"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", near, "type", "veth", "peer", "name", "db0", "netns", name)
        _ip("addr", "add", f"{here}/30", "dev", near)
        _ip("link", "set", near, "up")
        _ip("-netns", name, "addr", "add", f"{there}/30", "dev", "db0")
        _ip("-netns", name, "link", "set", "dev", "db0", "up")
        _ip("-netns", name, "link", "set", "lo", "up")
        # A neighbour that never expires: once the address goes, frames still reach the host
        # and are dropped there in silence, where a failed ARP would report "no route".
        [link] = json.loads(_ip("-j", "-netns", name, "link", "show", "dev", "db0"))
        _ip("neigh", "replace", there, "lladdr", link["address"], "dev", near, "nud", "permanent")
        yield VanishingHost(name, there)
    finally:
        # The namespace takes its end of the pair with it, and the pair's other end with that.
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
