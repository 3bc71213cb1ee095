"""Latency and throughput through the gateway vs straight to Rasa, process memory, category recall.

Starts the whole stack once (as the e2e tests do), then:
- the same scripted messages sent straight to Rasa's REST channel and through the gateway,
  interleaved in one run: p50/p95 per path and the ratio;
- 16 concurrent conversations through the whole path: messages per second and p95;
- resident memory of each process;
- interest/concern category recall on the development referrals.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.evaldata import eval_dir, load_jsonl  # noqa: E402
from tests.support.stack import APP_BIN, Stack, running_stack  # noqa: E402

ORDER = [
    "consent", "age", "preferred_name", "concerns", "interests", "what_matters", "area",
    "contact_ok", "best_times", "confirm",
]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def scripted_turns(case: dict[str, Any]) -> list[str]:
    answers = case["answers"]
    return [answers.get("opening", "hi")] + [answers.get(key, "skip") for key in ORDER]


async def direct_turn(client: httpx.AsyncClient, stack: Stack, sender: str, text: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        f"{stack.url('rasa')}/webhooks/rest/webhook",
        json={"sender": sender, "message": text, "metadata": {"channel": "local"}},
    )
    response.raise_for_status()
    return time.perf_counter() - started


async def gateway_turn(client: httpx.AsyncClient, stack: Stack, address: str, text: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        f"{stack.url('gateway')}/local/messages",
        json={"address": address, "text": text, "message_id": str(uuid.uuid4())},
        headers={"Authorization": f"Bearer {stack.env['YOUTHLINK_LOCAL_TOKEN']}"},
    )
    response.raise_for_status()
    return time.perf_counter() - started


async def latency(stack: Stack, cases: list[dict[str, Any]], rounds: int) -> None:
    direct: list[float] = []
    gateway: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(rounds):
            for case in cases:
                sender, address = f"bench-{uuid.uuid4().hex}", f"bench-{uuid.uuid4().hex}"
                for text in scripted_turns(case):
                    direct.append(await direct_turn(client, stack, sender, text))
                    gateway.append(await gateway_turn(client, stack, address, text))
    d50, d95 = percentile(direct, 50) * 1000, percentile(direct, 95) * 1000
    g50, g95 = percentile(gateway, 50) * 1000, percentile(gateway, 95) * 1000
    print(f"latency, one conversation at a time, {len(direct)} messages per path")
    print(f"  straight to Rasa : p50 {d50:7.1f} ms  p95 {d95:7.1f} ms")
    print(f"  through gateway  : p50 {g50:7.1f} ms  p95 {g95:7.1f} ms")
    print(f"  gateway/Rasa p95 ratio: {g95 / d95:.2f} (adds {100 * (g95 / d95 - 1):+.0f}%)")


async def throughput(stack: Stack, cases: list[dict[str, Any]], concurrency: int, seconds: float,
                     path: str) -> None:  # fmt: skip
    times: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(index: int) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
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


def memory(stack: Stack) -> None:
    print("resident memory per process:")
    for name, proc in stack.processes.items():
        rss_kb = 0
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
        print(f"  {name:8s}: {rss_kb / 1024:7.1f} MB")


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


def main() -> None:
    cases = [c for c in load_jsonl("referrals_dev.jsonl") if c["expect"].get("referral", 1)]
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as stack:
        category_recall(stack)
        asyncio.run(latency(stack, cases, rounds=2))
        asyncio.run(throughput(stack, cases, concurrency=16, seconds=30, path="rasa"))
        asyncio.run(throughput(stack, cases, concurrency=16, seconds=30, path="gateway"))
        memory(stack)


if __name__ == "__main__":
    main()
