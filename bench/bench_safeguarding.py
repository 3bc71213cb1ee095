"""Benchmark the safeguarding rules: load time, throughput and latency per matching strategy.

Run from the repository root:  python bench/bench_safeguarding.py [--messages N]

Prints plain text. Throughput is measured in CPU time of this process (one core), so a busy
machine does not distort it; wall-clock figures are shown alongside.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from safeguarding_rules.loader import default_rules_dir, read_rules  # noqa: E402
from safeguarding_rules.matcher import STRATEGIES  # noqa: E402
from safeguarding_rules.ruleset import RuleSet  # noqa: E402

BENIGN = [
    "i love football and want to join a team",
    "my mum says i spend too long on my phone",
    "school is so boring this week",
    "i had a fight with my best friend",
    "lol that was funny",
    "i want to learn to cook",
    "exams are stressing me out",
    "i like drawing anime",
    "can you help me find a dance class",
    "my dad works nights so i look after my brother",
    "i got a detention for being late",
    "we went to the park after school",
    "i'm dead 😂",
    "this homework is killing me",
    "my phone died again",
    "i want to get fitter",
    "i don't really have many friends",
    "i go to youth club on tuesdays",
    "i'm so tired today",
    "i'm starving what's for tea",
    "i killed it in my dance exam",
    "my nan died last year",
    "i feel a bit lonely sometimes",
    "i want to do volunteering",
    "i play fortnite with my mates",
    "i cut my hair short",
    "we did a drugs awareness lesson",
    "i love my dog so much",
]
RISKY = [
    "i want to kill myself",
    "i've been cutting again",
    "my dad hits me",
    "he asked for nudes",
    "they send me out country",
    "i keep a knife in my bag",
    "i make myself sick after eating",
    "someone is following me",
    "i'm addicted to ket",
    "i'm homeless",
    "kms",
    "i want to die",
]


def messages(count: int, length: int = 160, risky_share: float = 0.05) -> list[str]:
    """Deterministic synthetic messages of exactly ``length`` characters."""
    rng = random.Random(20261128)
    out = []
    for _ in range(count):
        parts: list[str] = []
        while len(" ".join(parts)) < length:
            bank = RISKY if rng.random() < risky_share else BENIGN
            parts.append(rng.choice(bank))
        out.append(" ".join(parts)[:length])
    return out


def measure(ruleset: RuleSet, texts: list[str]) -> dict[str, float]:
    """Screen every text; CPU-time throughput and per-message latency percentiles."""
    for text in texts[:200]:
        ruleset.screen(text)
    cpu_lat: list[int] = []
    wall_lat: list[int] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for text in texts:
        c, w = time.thread_time_ns(), time.perf_counter_ns()
        ruleset.screen(text)
        cpu_lat.append(time.thread_time_ns() - c)
        wall_lat.append(time.perf_counter_ns() - w)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    cpu_lat.sort()
    wall_lat.sort()
    return {
        "rate_cpu": len(texts) / cpu,
        "rate_wall": len(texts) / wall,
        "p50": cpu_lat[len(cpu_lat) // 2] / 1000,
        "p99": cpu_lat[int(len(cpu_lat) * 0.99)] / 1000,
        "max": cpu_lat[-1] / 1000,
        "p99_wall": wall_lat[int(len(wall_lat) * 0.99)] / 1000,
    }


def dev_set(ruleset: RuleSet) -> str:
    """Figures on the shared development set, if it is there."""
    from tests.support.evaldata import eval_dir

    path = eval_dir() / "safeguarding_dev.jsonl"
    if not path.exists():
        return f"dev set: {path} not found"
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    positives = [i for i in items if i["expect"] == "escalate"]
    benign = [i for i in items if i["expect"] == "benign"]
    escalated = category_ok = five_ok = five_total = 0
    for item in positives:
        verdict = ruleset.screen(item["text"])
        escalated += verdict.escalate()
        category_ok += item["category"] in verdict.categories
        if item.get("min_severity") == 5:
            five_total += 1
            five_ok += verdict.severity == 5
    false_alarms = sum(ruleset.screen(i["text"]).severity >= 4 for i in benign)
    return (
        f"dev set ({path}): escalated {escalated}/{len(positives)}, category right"
        f" {category_ok}/{len(positives)}, severity 5 where required {five_ok}/{five_total},"
        f" benign at severity >= 4: {false_alarms}/{len(benign)}"
        f" ({100 * false_alarms / max(len(benign), 1):.1f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()

    # Without the pattern cache (everything worked out), then with it (as a service starts
    # once any load has written it; `safeguarding_rules.pattern_cache`).
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cache in (None, Path(tmp) / "patterns.json"):
            if cache is not None:
                read_rules(default_rules_dir(), cache)  # writes the cache
            loads = []
            for _ in range(3):
                re.purge()  # measure a cold load, not the regex module's cache
                cpu0, wall0 = time.process_time(), time.perf_counter()
                result = read_rules(default_rules_dir(), cache)
                loads.append((time.process_time() - cpu0, time.perf_counter() - wall0))
            figures[cache is not None] = (
                statistics.median(c for c, _ in loads),
                statistics.median(w for _, w in loads),
            )
    base = result.ruleset
    if base is None:
        sys.exit("the rules do not load: run `python -m safeguarding_rules check`")
    patterns = sum(len(r.pattern_regexes) for r in base.rules)
    texts = messages(args.messages)
    print("YouthLink safeguarding rules benchmark")
    print(
        f"python {sys.version.split()[0]}; rule set {base.version}: {len(base.rules)} rules,"
        f" {patterns} patterns, {len(base.combinations)} combination(s)"
    )
    for cached, label in ((False, "no pattern cache"), (True, "pattern cache written")):
        load_cpu, load_wall = figures[cached]
        print(
            f"load (read, check, compile, build prefilter), {label}: {load_cpu:.3f} s CPU,"
            f" {load_wall:.3f} s wall (median of 3)"
        )
    print(f"messages: {len(texts)} x 160 characters, ~5% with a disclosure, one core")
    print()
    print(
        f"{'strategy':<12} {'msgs/s':>9} {'(wall)':>9} {'p50 us':>8} {'p99 us':>8}"
        f" {'max us':>8} {'p99 wall':>9} {'build s':>8}"
    )
    results = {}
    for name, strategy in STRATEGIES.items():
        cpu0 = time.process_time()
        matcher = strategy(base.rules)
        build = time.process_time() - cpu0
        ruleset = RuleSet(base.rules, base.combinations, base.normalise, base.version, matcher)
        sample = texts if name == "prefilter" else texts[: max(len(texts) // 10, 500)]
        r = measure(ruleset, sample)
        results[name] = r
        print(
            f"{name:<12} {r['rate_cpu']:>9.0f} {r['rate_wall']:>9.0f} {r['p50']:>8.1f}"
            f" {r['p99']:>8.1f} {r['max']:>8.1f} {r['p99_wall']:>9.1f} {build:>8.3f}"
        )
    fastest = max(results, key=lambda n: results[n]["rate_cpu"])
    print(f"kept: prefilter (the rule set's default); fastest here: {fastest}")
    if base.model is not None:
        # As services screen: the rules and the model behind them (`safeguarding_rules.model`).
        r = measure(base, texts)
        print(
            f"{'+ model':<12} {r['rate_cpu']:>9.0f} {r['rate_wall']:>9.0f} {r['p50']:>8.1f}"
            f" {r['p99']:>8.1f} {r['max']:>8.1f} {r['p99_wall']:>9.1f}"
        )
    cpu0 = time.process_time()
    for text in texts:
        base.normalise(text)
    print(f"normalisation alone: {len(texts) / (time.process_time() - cpu0):.0f} msgs/s")
    print(dev_set(base))


if __name__ == "__main__":
    main()
