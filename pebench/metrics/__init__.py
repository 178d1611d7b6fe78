"""Metrics and the one table of the numbers they make.

A metric is a small function returning per-sample values (or one corpus-level number), registered by
name with `@METRICS.register()` and carrying a hand-checked call (`@example`). The file that defines a
metric also declares the **cells** it contributes with `declare(Cell(...))`: which splits and task it
reads, its direction *there* (name precision is bad on forget splits and good on retain), its scale and
whether it is a board column. Evaluation (what to compute per record), `results.recompute`, the
leaderboard, its renderers and the reproduction table all read `cells()`; nothing else lists metrics.
A metric file may also say how a task's records are scored (`@record_score(task)`).
Modules whose names start with "_" are helpers, not metrics.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from pebench.registry import Registry

METRICS = Registry("metric", "pebench.metrics")
_CELLS = []
_RECORD_SCORES = {}
DIRECTIONS = ("higher", "lower", "goal")  # better when higher / lower / closer to the goal model
BOARD_KINDS = ("forget", "keep")  # forget: normalized between the references; keep: share of goal kept
FIELDS = ("prediction", "logprobs", "stats", "truth_ratio")  # what a record can hold for a cell


def example(*args, expected, **kwargs):
    """Decorator attaching a hand-checked call and its exact result to a metric."""

    def attach(fn):
        fn.example = (args, kwargs, expected)
        return fn

    return attach


def mean(*groups):
    """The default statistic: the mean over the last axis of the first group (vectorised over resamples)."""
    return groups[0].mean(axis=-1)


@dataclass(frozen=True)
class Cell:
    """One number of a result: the metric that makes it, the records it reads, and how to read it.

    value = offset + scale * statistic(*measure(view)), where `measure` returns groups of per-sample
    values (numpy arrays; rows of a 2-D group are resampled together) and `statistic` maps groups with
    leading resample axes to one value per resample (the bootstrap calls it once for all resamples).

    Attributes:
        name: the aggregate's key; a cell of a block is prefixed "person_"/"event_" on the joint target.
        label: how tables show it.
        metric: the registered metric that makes its per-sample values (traceability).
        splits: the record splits it reads.
        needs: record fields it needs on those splits (`FIELDS`); "prediction" for generated answers.
        task: "own" (the block's forgotten task), "other" (the other concept) or a schema task name.
        block: "person" or "event" for a cell of one forget target's block; None for every target.
        direction: "higher", "lower" or "goal" is better for this cell.
        column: position among the board's columns (1, 2, ...); 0 = not a column.
        board: "forget" or "keep" for a board column (how it is scored), else None.
        unit: factor to a [0, 1] scale (percent cells: 0.01), for the joint headline.
        joint: on the joint target, the unprefixed cell is the mean of both blocks on the [0, 1] scale.
        interval: a bootstrap interval is computed (False for a test statistic such as a KS p-value).
        reference: "goal" when the cell needs the goal model's result (it is absent without one, and a
            reference lends its other cells only: `results.as_reference`).
    """

    name: str
    label: str
    metric: str
    splits: tuple
    measure: Callable
    statistic: Callable = mean
    needs: tuple = ("prediction",)
    task: str = "own"
    block: Optional[str] = None
    scale: float = 1.0
    offset: float = 0.0
    direction: str = "higher"
    column: int = 0
    board: Optional[str] = None
    unit: float = 1.0
    joint: bool = False
    interval: bool = True
    reference: Optional[str] = None


def declare(*cells):
    """Add cells to the table (called at import of a metric module); returns them."""
    for cell in cells:
        assert cell.direction in DIRECTIONS and (cell.board in (None, *BOARD_KINDS)), cell.name
        assert set(cell.needs) <= set(FIELDS), cell.name
        if any(c.name == cell.name and c.block == cell.block for c in _CELLS):
            raise ValueError(f"cell {cell.name!r} (block {cell.block}) is declared twice")
        _CELLS.append(cell)
    return cells


def cells():
    """Every declared cell, in a stable order (board columns first by position, then by name)."""
    METRICS.names()  # imports every metric module, so their declarations ran
    return sorted(_CELLS, key=lambda c: (c.column == 0, c.column, c.name, c.block or ""))


def columns():
    """The board's columns: the first cell of each column name, in column order."""
    seen = {}
    for cell in cells():
        if cell.column and cell.name not in seen:
            seen[cell.name] = cell
    return list(seen.values())


def record_score(*tasks):
    """Decorator: `fn(records, refs, judge, fresh) -> list[float]` scores the records of these tasks."""

    def register(fn):
        for task in tasks:
            if task in _RECORD_SCORES:
                raise ValueError(f"task {task!r} has two record scores")
            _RECORD_SCORES[task] = fn
        return fn

    return register


def record_scorer(task):
    """The function that scores records of `task`, or None (the task has no per-record score)."""
    METRICS.names()
    return _RECORD_SCORES.get(task)


def as_groups(*groups):
    """Groups of per-sample values as float arrays (what `Cell.measure` returns)."""
    return [np.asarray(g, dtype=np.float64) for g in groups]


def evaluate_module(name):
    """Folder of the offline `evaluate` module for a metric: `evaluate.load(evaluate_module("rouge_l"))`."""
    from pathlib import Path

    from pebench.errors import UserError

    folder = Path(__file__).with_name("evaluate_modules") / name
    if not (folder / f"{name}.py").is_file():
        choices = sorted(p.name for p in folder.parent.iterdir() if p.is_dir() and not p.name.startswith("_"))
        raise UserError(f"no evaluate module {name!r}; choose from: {', '.join(choices)}")
    return str(folder)


def scores_of(split, task="own"):
    """A `Cell.measure` reading the records' per-sample task scores (see `record_score`) on one split."""

    def measure(view):
        return [view.scores(split, task)]

    return measure


def per_block(*cells):
    """The same cells for the person block and the event block (measured on each block's own task)."""
    from dataclasses import replace

    return [replace(cell, block=block) for block in ("person", "event") for cell in cells]


def pebench_cells(metric, block, top):
    """PEBench's efficacy, generality (+ on unseen renderings) and retain of one block, at Table 1's scale.

    The block's per-record task scores (0..1) are shown on a scale whose top is `top` (100: percent, as
    for name precision; 1: a judge score); forgotten = top - score on the forget splits.
    """
    forgot = dict(metric=metric, block=block, joint=True, unit=1.0 / top, scale=-top, offset=top)
    return (
        Cell("efficacy", "Efficacy", splits=("forget_train",), measure=scores_of("forget_train"), column=1,
             board="forget", **forgot),
        Cell("generality", "Generality", splits=("forget_test",), measure=scores_of("forget_test"), column=2,
             board="forget", **forgot),
        Cell("generality_unseen", "Generality (unseen renderings)", splits=("forget_unseen",),
             measure=scores_of("forget_unseen"), **forgot),
        Cell("retain", "Retain", metric=metric, splits=("retain_test",), measure=scores_of("retain_test"),
             column=3, board="keep", joint=True, block=block, unit=1.0 / top, scale=float(top)),
    )
