"""The gateway's own cost per message, against a stand-in for Rasa that answers at once.

Starts the gateway as `make run` does (its own process, SQLite, `youthlink serve gateway`) with
the fake Rasa from the tests on 127.0.0.1, then:
- one conversation at a time: the same messages straight to the stand-in and through the
  gateway, interleaved; the difference is what the gateway adds (p50/p95);
- 16 concurrent conversations through the gateway for 20 s: messages per second and p95;
- the gateway process's CPU time per message in each phase.

With Rasa taken out, what is left is the gateway: HTTP in, storing, screening, claiming, the
call out, answering and HTTP back.

`--rasa-ms 8` makes the stand-in take that long over each answer (sleeping), as long as Rasa
takes over a turn: the gateway then sits idle while it waits, as it does in the whole stack.
`--replies 5` makes each answer five messages, as a confirm turn's is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import cpu_seconds, percentile  # noqa: E402
from tests.support.db import fresh_settings, settings_env  # noqa: E402
from tests.support.fake_rasa import FakeRasa, Reply, echo  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.stack import APP_BIN  # noqa: E402

TURNS = ["hi", "yes", "15", "Sam", "school is stressing me out", "football and drawing", "skip"]
SEQUENTIAL_CONVERSATIONS = 40
CONCURRENT = 16
CONCURRENT_SECONDS = 20.0


async def timed_post(client: httpx.AsyncClient, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = await client.post(url, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return time.perf_counter() - started


async def measure(gateway_url: str, rasa_url: str, token: str, pid: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(50):
            try:
                (await client.get(f"{gateway_url}/healthz")).raise_for_status()
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        direct: list[float] = []
        through: list[float] = []
        cpu_before = cpu_seconds(pid)
        for n in range(SEQUENTIAL_CONVERSATIONS):
            address = f"bench-{uuid.uuid4().hex[:8]}"
            for text in TURNS:
                direct.append(
                    await timed_post(
                        client,
                        f"{rasa_url}/webhooks/rest/webhook",
                        json={"sender": address, "message": text, "metadata": {}},
                    )
                )
                through.append(
                    await timed_post(
                        client,
                        f"{gateway_url}/local/messages",
                        json={"address": address, "text": text},
                        headers=headers,
                    )
                )
            if n == 0:  # the first conversation warms up caches and connections
                direct.clear()
                through.clear()
                cpu_before = cpu_seconds(pid)
        cpu_per_message = (cpu_seconds(pid) - cpu_before) / len(through)
        added = [t - d for t, d in zip(through, direct, strict=True)]
        print(f"one conversation at a time, {len(through)} messages per path")
        for name, values in (("stand-in for Rasa", direct), ("through gateway", through)):
            print(
                f"  {name:18}: p50 {percentile(values, 50) * 1000:6.2f} ms"
                f"  p95 {percentile(values, 95) * 1000:6.2f} ms"
            )
        print(
            f"  gateway adds      : p50 {percentile(added, 50) * 1000:6.2f} ms"
            f"  p95 {(percentile(through, 95) - percentile(direct, 95)) * 1000:6.2f} ms"
        )
        print(f"  gateway CPU per message: {cpu_per_message * 1000:.2f} ms")

        latencies: list[float] = []
        deadline = time.perf_counter() + CONCURRENT_SECONDS
        cpu_before = cpu_seconds(pid)

        async def conversation() -> None:
            while time.perf_counter() < deadline:
                address = f"load-{uuid.uuid4().hex[:8]}"
                for text in TURNS:
                    if time.perf_counter() >= deadline:
                        return
                    latencies.append(
                        await timed_post(
                            client,
                            f"{gateway_url}/local/messages",
                            json={"address": address, "text": text},
                            headers=headers,
                        )
                    )

        started = time.perf_counter()
        await asyncio.gather(*(conversation() for _ in range(CONCURRENT)))
        elapsed = time.perf_counter() - started
        cpu = (cpu_seconds(pid) - cpu_before) / max(1, len(latencies))
        print(
            f"{CONCURRENT} concurrent conversations through the gateway: "
            f"{len(latencies) / elapsed:6.1f} msg/s, p50 {percentile(latencies, 50) * 1000:.1f} ms,"
            f" p95 {percentile(latencies, 95) * 1000:.1f} ms; gateway CPU per message"
            f" {cpu * 1000:.2f} ms"
        )


def slow_echo(seconds: float, replies: int) -> Callable[[str, str, dict[str, Any]], Reply]:
    """The stand-in's answer (`replies` messages), after `seconds`."""

    def answer(sender: str, message: str, metadata: dict[str, Any]) -> Reply:
        if seconds:
            time.sleep(seconds)
        (reply,) = echo(sender, message, metadata)
        return [{**reply, "text": f"{reply['text']} ({n + 1})"} for n in range(replies)]

    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-ms", type=float, default=0.0, help="the stand-in's time per answer")
    parser.add_argument("--replies", type=int, default=1, help="messages in each answer")
    args = parser.parse_args()
    delay = args.rasa_ms / 1000
    fake = FakeRasa(keep_alive=True, responder=slow_echo(delay, args.replies)).start()
    print(f"stand-in for Rasa answers {args.replies} message(s) after {delay * 1000:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="youthlink-bench-gw-") as tmp:
        settings = fresh_settings(f"sqlite:///{tmp}/gateway.db", rasa_url=fake.url)
        port = free_port()
        env = {**os.environ, **settings_env(settings), "YOUTHLINK_RASA_URL": fake.url}
        env["PYTHONPATH"] = str(REPO)
        env["YOUTHLINK_LOG_LEVEL"] = "WARNING"
        process = subprocess.Popen(
            [str(APP_BIN / "youthlink"), "serve", "gateway", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(
                measure(f"http://127.0.0.1:{port}", fake.url, settings.local_token, process.pid)
            )
        finally:
            process.terminate()
            process.wait(10)
            fake.stop()


if __name__ == "__main__":
    main()
