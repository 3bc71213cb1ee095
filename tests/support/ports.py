"""Ports for the servers tests start: free, and outside the range outgoing connections use.

A port from `bind(("127.0.0.1", 0))` is one of the kernel's ephemeral ports, the range it also
hands to outgoing connections. Between choosing it and the server binding it (Rasa takes many
seconds to get there) any outgoing connection (a health check, a client) may take it as its local
port, and the server then fails to start. Ports below the ephemeral range are never handed out
that way.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux's default elsewhere)."""
    try:
        low, high = (int(part) for part in RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range."""
    low, high = ephemeral_range()
    candidates = range(LOWEST, low) if low - LOWEST >= 1000 else range(high + 1, 65536)
    for _ in range(200):
        port = random.choice(candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port outside the ephemeral range")
