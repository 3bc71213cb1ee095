"""Latency and throughput through the gateway vs straight to Rasa, process memory, category recall.

Starts the whole stack once (as the e2e tests do), then:
- the same scripted messages sent straight to Rasa's REST channel and through the gateway,
  interleaved in one run: p50/p95 per path and the ratio;
- 16 concurrent conversations through the whole path: messages per second and p95;
- resident memory of each process;
- interest/concern category recall on the development referrals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import cpu_seconds, percentile  # noqa: E402
from channels.conversations import conversation_id_for, create_conversation  # noqa: E402
from channels.database import utcnow  # noqa: E402
from tests.support.evaldata import eval_dir, load_jsonl  # noqa: E402
from tests.support.stack import APP_BIN, Stack, process_tree, running_stack  # noqa: E402
from youthlink.config import Settings  # noqa: E402
from youthlink.crypto import Cipher  # noqa: E402
from youthlink.db import make_engine  # noqa: E402
from youthlink.rasa_endpoints import lock_store  # noqa: E402

# Several Rasa processes share their conversation locks in Redis (a database number of the
# benchmark's own, kept apart from anything else on the machine).
REDIS_URL = os.environ.get("YOUTHLINK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")

ORDER = [
    "consent", "age", "preferred_name", "concerns", "interests", "what_matters", "area",
    "contact_ok", "best_times", "confirm",
]  # fmt: skip


def scripted_turns(case: dict[str, Any]) -> list[str]:
    answers = case["answers"]
    return [answers.get("opening", "hi")] + [answers.get(key, "skip") for key in ORDER]


# The clients run on the same cores as the stack, so they use aiohttp, the lightest client at
# hand; their own CPU per message is printed with the stack's.


def client_session(keepalive: bool = True) -> aiohttp.ClientSession:
    # With several Rasa processes the clients sent straight to Rasa open a connection per
    # message, as the gateway then does: a kept connection stays with the process that
    # accepted it, and one process could get every message (docs/operations.md).
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=60),
        connector=aiohttp.TCPConnector(force_close=not keepalive),
    )


async def direct_turn(client: aiohttp.ClientSession, stack: Stack, sender: str, text: str) -> float:
    started = time.perf_counter()
    async with client.post(
        f"{stack.url('rasa')}/webhooks/rest/webhook",
        json={"sender": sender, "message": text, "metadata": {"channel": "local"}},
    ) as response:
        response.raise_for_status()
        await response.read()
    return time.perf_counter() - started


async def gateway_turn(
    client: aiohttp.ClientSession, stack: Stack, address: str, text: str
) -> float:
    started = time.perf_counter()
    async with client.post(
        f"{stack.url('gateway')}/local/messages",
        json={"address": address, "text": text, "message_id": str(uuid.uuid4())},
        headers={"Authorization": f"Bearer {stack.env['YOUTHLINK_LOCAL_TOKEN']}"},
    ) as response:
        response.raise_for_status()
        await response.read()
    return time.perf_counter() - started


def known_to_the_gateway(stack: Stack) -> Callable[[], str]:
    """A Rasa sender id for a conversation the gateway knows, with an address.

    When a referral is submitted, the handoff API looks the conversation's contact address up
    in the gateway's tables and stores it, encrypted. A conversation sent straight to Rasa under
    an id the gateway has never seen would skip that work, and the comparison would count it
    against the gateway (about 0.6 ms of a confirm turn): so each conversation sent straight to
    Rasa is first registered as the gateway would register it.
    """
    settings = Settings.from_env(stack.env)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(settings.database_url)

    def register() -> str:
        address = f"bench-direct-{uuid.uuid4().hex}"
        with engine.begin() as connection:
            create_conversation(connection, cipher, "local", address, utcnow())
        return conversation_id_for(cipher, "local", address)

    return register


async def latency(stack: Stack, cases: list[dict[str, Any]], rounds: int) -> None:
    direct: list[float] = []
    gateway: list[float] = []
    confirm: list[bool] = []  # the last turn, which submits the referral
    register = known_to_the_gateway(stack)
    async with client_session() as client:
        for _ in range(rounds):
            for case in cases:
                sender, address = register(), f"bench-{uuid.uuid4().hex}"
                turns = scripted_turns(case)
                for index, text in enumerate(turns):
                    direct.append(await direct_turn(client, stack, sender, text))
                    gateway.append(await gateway_turn(client, stack, address, text))
                    confirm.append(index == len(turns) - 1)
    d50, d95 = percentile(direct, 50) * 1000, percentile(direct, 95) * 1000
    g50, g95 = percentile(gateway, 50) * 1000, percentile(gateway, 95) * 1000
    print(f"latency, one conversation at a time, {len(direct)} messages per path")
    print(f"  straight to Rasa : p50 {d50:7.1f} ms  p95 {d95:7.1f} ms")
    print(f"  through gateway  : p50 {g50:7.1f} ms  p95 {g95:7.1f} ms")
    print(f"  gateway/Rasa p95 ratio: {g95 / d95:.2f} (adds {100 * (g95 / d95 - 1):+.0f}%)")
    print(f"  gateway/Rasa p50 ratio: {g50 / d50:.2f} (adds {100 * (g50 / d50 - 1):+.0f}%)")
    # The same message sent both ways one after the other: what the gateway added to it.
    for label, wanted in (("confirm turns", True), ("other turns", False)):
        pairs = [(g, d) for g, d, c in zip(gateway, direct, confirm, strict=True) if c == wanted]
        added = percentile([g - d for g, d in pairs], 50) * 1000
        alone = percentile([d for _, d in pairs], 50) * 1000
        print(f"  {label:13s}: gateway adds {added:.1f} ms (median), Rasa alone {alone:.1f} ms")


async def throughput(stack: Stack, cases: list[dict[str, Any]], concurrency: int, seconds: float,
                     path: str) -> int:  # fmt: skip
    times: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(index: int) -> None:
        keepalive = path == "gateway" or stack.env.get("YOUTHLINK_RASA_WORKERS", "1") == "1"
        async with client_session(keepalive) as client:
            while time.monotonic() < deadline:
                case = cases[index % len(cases)]
                ident = f"bench-{uuid.uuid4().hex}"
                for text in scripted_turns(case):
                    if time.monotonic() >= deadline:
                        return
                    if path == "gateway":
                        times.append(await gateway_turn(client, stack, ident, text))
                    else:
                        times.append(await direct_turn(client, stack, ident, text))

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    print(
        f"throughput via {path:8s}: {concurrency} concurrent conversations: "
        f"{len(times) / elapsed:6.1f} msg/s, p50 {percentile(times, 50) * 1000:6.1f} ms, "
        f"p95 {percentile(times, 95) * 1000:6.1f} ms ({len(times)} messages in {elapsed:.0f} s)"
    )
    return len(times)


def memory(stack: Stack) -> None:
    print("resident memory per process:")
    for name, proc in stack.processes.items():
        sizes = []
        for pid in process_tree(proc.pid):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        shown = " + ".join(f"{size:.1f}" for size in sizes)
        print(f"  {name:8s}: {shown} MB")


def yardstick() -> float:
    """Seconds of CPU for a fixed pure-Python loop: how fast this machine is right now."""
    started = time.process_time()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.process_time() - started


def category_recall(stack: Stack) -> None:
    cases = {case["id"]: case for case in load_jsonl("referrals_dev.jsonl")}
    result = subprocess.run(
        [str(APP_BIN / "youthlink"), "chat", "--script", str(eval_dir() / "referrals_dev.jsonl")],
        cwd=REPO, env=stack.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    hits = {"interests": [0, 0], "concerns": [0, 0]}
    for line in result.stdout.splitlines():
        outcome = json.loads(line)
        expect = cases[outcome["id"]]["expect"]
        referral = outcome["referral"] or {"interests": [], "concerns": []}
        for kind in ("interests", "concerns"):
            got = {item["category"] for item in referral[kind]}
            for category in expect.get(kind, []):
                hits[kind][1] += 1
                hits[kind][0] += category in got
    for kind, (hit, total) in hits.items():
        print(
            f"category recall on dev referrals, {kind}: {hit}/{total} = {hit / max(total, 1):.2f}"
        )


def measure(stack: Stack, cases: list[dict[str, Any]]) -> None:
    """Latency one at a time, then 16 concurrent (with each process's CPU per message)."""
    asyncio.run(latency(stack, cases, rounds=8))
    asyncio.run(throughput(stack, cases, concurrency=16, seconds=30, path="rasa"))
    trees = {name: process_tree(proc.pid) for name, proc in stack.processes.items()}
    before = {name: cpu_seconds(*pids) for name, pids in trees.items()}
    before["bench clients"] = sum(os.times()[:2])
    handled = asyncio.run(throughput(stack, cases, concurrency=16, seconds=30, path="gateway"))
    used = {name: cpu_seconds(*pids) - before[name] for name, pids in trees.items()}
    used["bench clients"] = sum(os.times()[:2]) - before["bench clients"]
    print(
        "  CPU per message: "
        + ", ".join(f"{name} {seconds / handled * 1000:.1f} ms" for name, seconds in used.items())
    )
    memory(stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--one-stack", action="store_true", help="only the make run configuration (one Rasa)"
    )
    args = parser.parse_args()
    cases = [c for c in load_jsonl("referrals_dev.jsonl") if c["expect"].get("referral", 1)]
    print(f"CPU yardstick: a 10-million-step Python loop takes {yardstick():.2f} s here")
    print("== embedded default: SQLite, one Rasa process (make run)")
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as stack:
        category_recall(stack)
        measure(stack, cases)
    if not args.one_stack:
        two_rasa_processes(cases)
    print(f"CPU yardstick: a 10-million-step Python loop takes {yardstick():.2f} s here")


def two_rasa_processes(cases: list[dict[str, Any]]) -> None:
    print("== two Rasa processes sharing a Redis lock store; SQLite (YOUTHLINK_RASA_WORKERS=2)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Path(tmp),
            endpoints={"lock_store": lock_store(REDIS_URL)},
            SANIC_WORKERS="2",
            YOUTHLINK_RASA_WORKERS="2",
        ) as stack,
    ):
        measure(stack, cases)


if __name__ == "__main__":
    main()
