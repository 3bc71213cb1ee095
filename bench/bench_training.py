"""Training time and NLU quality: intent macro-F1 and entity F1 by 5-fold cross-validation."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RASA = str(REPO / ".venv-rasa" / "bin" / "rasa")
DATA = ["--config", "config.yml", "--domain", "bot/domain", "--data", "nlu", "bot/data"]


def timed_training(out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [RASA, "train", *DATA, "--out", str(out), "--force", "--quiet"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def cross_validation(out: Path) -> None:
    subprocess.run(
        [RASA, "test", "nlu", "--config", "config.yml", "--nlu", "nlu", "--cross-validation",
         "--folds", "5", "--out", str(out), "--quiet"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    intents = json.loads((out / "intent_report.json").read_text())
    print(f"intent macro-F1 (5-fold): {intents['macro avg']['f1-score']:.3f}")
    worst = sorted(
        (v["f1-score"], k)
        for k, v in intents.items()
        if isinstance(v, dict)
        and "support" in v
        and k not in ("macro avg", "weighted avg", "micro avg")
    )[:5]
    print("  lowest intents: " + ", ".join(f"{name} {f1:.2f}" for f1, name in worst))
    entity_reports = list(out.glob("*entity*_report.json")) + list(
        out.glob("*Extractor_report.json")
    )
    for report in entity_reports:
        data = json.loads(report.read_text())
        if "macro avg" in data:
            print(f"entity macro-F1 ({report.stem}): {data['macro avg']['f1-score']:.3f}")
    if not entity_reports:
        print(
            "entity F1: no trainable entity extractor in the pipeline (nothing to cross-validate)"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seconds = timed_training(Path(tmp) / "models")
        print(f"training time (full pipeline, forced): {seconds:.0f} s")
        cross_validation(Path(tmp) / "cv")


if __name__ == "__main__":
    main()
