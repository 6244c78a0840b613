"""The training metrics log, written by dvclive.

:class:`MetricLog` writes ``<dir>/plots/metrics/<name>.tsv`` and ``<dir>/metrics.json`` through
dvclive; :func:`read_history` reads every series back (for notebook figures).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from lstmgan.errors import UserError
from lstmgan.utils.io import writing

log = logging.getLogger(__name__)


class MetricLog:
    """dvclive's ``<dir>/plots/metrics/<name>.tsv`` (step, value) and ``<dir>/metrics.json``
    (latest values). On resume, rows after the resumed step are dropped first (they came from
    steps that are about to be trained again) and dvclive appends to the rest."""

    def __init__(self, log_dir: str | Path, resume_step: int | None):
        try:
            from dvclive import Live
        except ImportError as exc:
            raise UserError("training logs its metrics with dvclive, which is not installed: "
                            "pip install 'lstmgan[pipeline]'") from exc

        self.dir = Path(log_dir)
        self.plots = self.dir / "plots" / "metrics"
        with writing(self.dir):
            if resume_step is not None:
                self._truncate(resume_step)
            self.live = Live(str(self.dir), resume=resume_step is not None, dvcyaml=False,
                             save_dvc_exp=False, report=None)

    def _truncate(self, step: int) -> None:
        for tsv in self.plots.rglob("*.tsv"):
            lines = tsv.read_text().splitlines()
            kept = lines[:1] + [line for line in lines[1:] if int(float(line.split("\t")[0])) <= step]
            tsv.write_text("\n".join(kept) + "\n")

    def log(self, step: int, values: Mapping[str, float]) -> None:
        with writing(self.dir):
            self.live.step = step
            for name, value in values.items():
                self.live.log_metric(name, float(value))
            self.live.make_summary()

    def close(self) -> None:
        with writing(self.dir):
            self.live.end()


def read_history(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """All logged series of a run: ``{"gen/total": [(step, value), ...], ...}`` (for figures)."""
    plots = Path(log_dir) / "plots" / "metrics"
    history: dict[str, list[tuple[int, float]]] = {}
    for tsv in sorted(plots.rglob("*.tsv")):
        name = tsv.relative_to(plots).with_suffix("").as_posix()
        rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.strip()]
        history[name] = [(int(float(r[0])), float(r[-1])) for r in rows]
    return history


class StepWindow:
    """Per-step loss values averaged over the steps since the last log row, plus throughput.

    ``row`` returns the means (with ``gen/total``, the sum of the generator terms), the learning
    rate and the frames per second of the window, and starts a new window; ``total_fps`` is the
    throughput of the whole run (step time includes reading the batch, not validation).
    """

    def __init__(self, frames_per_step: int):
        self.frames_per_step = frames_per_step
        self.sums: dict[str, float] = {}
        self.steps, self.seconds = 0, 0.0
        self.total_steps, self.total_seconds = 0, 0.0

    def add(self, values: Mapping[str, float], seconds: float) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.steps += 1
        self.seconds += seconds
        self.total_steps += 1
        self.total_seconds += seconds

    def row(self, lr: float) -> dict[str, float]:
        row = {name: value / self.steps for name, value in self.sums.items()}
        row["gen/total"] = sum(v for n, v in row.items() if n.startswith("gen/"))
        row["lr"] = lr
        row["frames_per_second"] = self.steps * self.frames_per_step / max(self.seconds, 1e-9)
        self.reset()
        return row

    def reset(self) -> None:
        self.sums, self.steps, self.seconds = {}, 0, 0.0

    @property
    def total_fps(self) -> float | None:
        return self.total_steps * self.frames_per_step / self.total_seconds if self.total_seconds else None
