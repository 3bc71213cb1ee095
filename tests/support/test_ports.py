"""Test servers get ports no outgoing connection can take before they bind them."""

from __future__ import annotations

import socket

import pytest

from tests.support.ports import ephemeral_range, free_port

pytestmark = pytest.mark.unit


def test_ports_are_free_and_outside_the_ephemeral_range() -> None:
    low, high = ephemeral_range()
    ports = {free_port() for _ in range(50)}
    assert all(not low <= port <= high for port in ports)
    assert len(ports) > 40  # chosen at random, so parallel stacks rarely try the same one
    for port in list(ports)[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_given() -> None:
    held = []
    try:
        for _ in range(20):
            sock = socket.socket()
            sock.bind(("127.0.0.1", free_port()))
            sock.listen()
            held.append(sock)
        taken = {s.getsockname()[1] for s in held}
        assert all(free_port() not in taken for _ in range(200))
    finally:
        for sock in held:
            sock.close()
