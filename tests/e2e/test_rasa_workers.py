"""Rasa as two processes sharing a Redis lock store: conversations still complete correctly.

Several conversations run at once, so their turns land on both Rasa processes; each one's
turns must still see its own earlier turns (the tracker store is read on every turn) and never
run at the same time (the lock store).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.db import skip_or_fail
from tests.support.evaldata import check_referral_outcome, eval_dir, load_jsonl
from tests.support.stack import APP_BIN, REPO, Stack, cpu_seconds, process_tree, running_stack
from youthlink.rasa_endpoints import lock_store

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("YOUTHLINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
RUNS = 3


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    finally:
        client.close()
    with running_stack(
        tmp_path_factory.mktemp("workers"),
        endpoints={"lock_store": lock_store(REDIS_URL)},
        SANIC_WORKERS="2",
        YOUTHLINK_RASA_WORKERS="2",  # as `make run` sets it: the gateway then opens a
        # connection per message, taken by whichever process is free
    ) as running:
        yield running


def test_conversations_complete_across_two_rasa_processes(two_workers: Stack) -> None:
    rasa = two_workers.processes["rasa"]
    workers = process_tree(rasa.pid)[1:]
    assert len(workers) >= 2, "Rasa should run as two worker processes"
    before = [cpu_seconds(pid) for pid in workers]
    script = str(eval_dir() / "referrals_dev.jsonl")
    command = [str(APP_BIN / "youthlink"), "chat", "--script", script]
    runs = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env=two_workers.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RUNS)
    ]
    outcomes: list[dict[str, Any]] = []
    for run in runs:
        out, err = run.communicate(timeout=900)
        assert run.returncode == 0, err[-3000:]
        outcomes += [json.loads(line) for line in out.splitlines() if line.strip()]
    cases = {case["id"]: case for case in load_jsonl("referrals_dev.jsonl")}
    assert len(outcomes) == RUNS * len(cases)
    for outcome in outcomes:
        check_referral_outcome(cases[outcome["id"]]["expect"], outcome)
    # Every conversation is its own: no two outcomes share a referral.
    ids = [o["referral"]["referral_id"] for o in outcomes if o["referral"]]
    assert len(ids) == len(set(ids))
    # Both processes took their share: the gateway's connections are not all held by one.
    used = [cpu_seconds(pid) - spent for pid, spent in zip(workers, before, strict=True)]
    assert min(used) > 0.2 * sum(used), used
