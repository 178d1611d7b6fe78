"""Compute a result's aggregates from the declared cells (`pebench.metrics.cells()`): the one engine.

Nothing here names a metric. For each cell that applies to the result's target (a block cell once per
block, prefixed "person_"/"event_" on the joint target), the cell measures groups of per-sample values
from the records; its value is the cell's statistic of them, and its 95 % interval a seeded percentile
bootstrap over the same groups (each group resampled on its own, rows of a 2-D group together), all
resamples at once. The joint target's unprefixed headline cells average the two blocks on [0, 1].
"""
import zlib
from typing import Callable, NamedTuple

import numpy as np

from pebench.metrics import cells
from pebench.schema import EVENT_DESCRIPTION, PERSON_NAME

BLOCK_TASKS = {"person": (PERSON_NAME, EVENT_DESCRIPTION), "event": (EVENT_DESCRIPTION, PERSON_NAME)}


def blocks_of(target):
    """The forget blocks of a target: the joint target forgets people and events."""
    return ("person", "event") if target == "joint" else (target,)


def placements(target):
    """(aggregate name, cell, block) for every declared cell that applies to `target`.

    A block's cell is named with a "person_"/"event_" prefix on the joint target; a cell of no block
    applies to every target. (The joint target's unprefixed headline cells are added by `compute`.)
    """
    out = []
    for cell in cells():
        for block in [None] if cell.block is None else [b for b in blocks_of(target) if b == cell.block]:
            prefix = f"{block}_" if target == "joint" and block else ""
            out.append((prefix + cell.name, cell, block))
    return out


class Records:
    """Records grouped by (split, task), each group sorted by id (so record order never matters)."""

    def __init__(self, records, refs):
        self.refs = refs
        self.groups = {}
        for record in sorted(records, key=lambda r: (r["split"], r["task"], r["id"])):
            self.groups.setdefault((record["split"], record["task"]), []).append(record)


class View:
    """What a cell's `measure` sees: the records, from the point of view of one block (or none).

    `task` arguments accept "own" (the block's forgotten task), "other" (the other concept), a schema
    task name, or a tuple of task names.
    """

    def __init__(self, records, block, prefix, result):
        self.records, self.block, self.prefix = records, block, prefix
        self.reference = result.get("reference") or {}
        self.reference_info = result.get("reference_info") or {}

    def tasks(self, task):
        if task in ("own", "other"):
            own, other = BLOCK_TASKS[self.block]
            return (own if task == "own" else other,)
        return tuple(task) if isinstance(task, (tuple, list)) else (task,)

    def rows(self, split, task, need=()):
        """Records of `split` and `task` (all tasks if None) that hold every field in `need`."""
        groups = self.records.groups
        tasks = sorted({t for s, t in groups if s == split}) if task is None else self.tasks(task)
        return [r for t in tasks for r in groups.get((split, t), []) if all(r.get(k) is not None for k in need)]

    def scores(self, split, task):
        return np.array([r["score"] for r in self.rows(split, task, need=("score",))], dtype=np.float64)

    def answers(self, rows):
        return [self.records.refs[(r["split"], r["id"])]["answer"] for r in rows]

    def goal(self, name):
        """The goal model's aggregate `name` for this block (None without a goal reference)."""
        return (self.reference.get("goal") or {}).get(self.prefix + name)


class Planned(NamedTuple):
    groups: list
    statistic: Callable  # statistic(*groups with leading resample axes) -> one value per resample
    interval: bool


def compute(result, refs, placed=None, prefix=""):
    """{name: {"value", "ci95"}} for every applicable cell whose records exist.

    `placed`: (name, cell, block) to compute instead of every cell of the target (`placements`); `prefix`
    goes before each name (an attack probe's cells: "relearn:generality").
    """
    target = result["dataset"]["target"]
    records = Records(result["records"], refs)
    planned, units = {}, {}
    for name, cell, block in placements(target) if placed is None else placed:
        groups = cell.measure(View(records, block, "" if name == cell.name else f"{block}_", result))
        if groups is None or any(len(g) == 0 for g in groups):
            continue
        planned[name] = Planned(list(groups), _scaled(cell), cell.interval)
        units[name] = (cell, block)
    if target == "joint":
        planned.update(_joint(planned, units))
    seed, resamples = result["eval"]["seed"], result["eval"]["bootstrap"]
    out = {}
    for name, plan in sorted(planned.items()):
        value = float(plan.statistic(*[g[None] for g in plan.groups])[0])
        if np.isfinite(value):
            ci = bootstrap(plan, resamples, seed, prefix + name) if plan.interval else None
            out[prefix + name] = {"value": value, "ci95": ci}
    return out


def _scaled(cell):
    def statistic(*groups):
        return cell.offset + cell.scale * np.asarray(cell.statistic(*groups), dtype=np.float64)

    return statistic


def _joint(planned, units):
    """Unprefixed cells of the joint target: 0.5 * (person block + event block), each on [0, 1]."""
    out = {}
    for name, (cell, block) in units.items():
        if not (cell.joint and block == "person" and f"event_{cell.name}" in planned):
            continue
        a, b = planned[name], planned[f"event_{cell.name}"]
        unit_a, unit_b = cell.unit, units[f"event_{cell.name}"][0].unit
        n = len(a.groups)

        def both(*groups, a=a, b=b, n=n, unit_a=unit_a, unit_b=unit_b):
            return 0.5 * (a.statistic(*groups[:n]) * unit_a + b.statistic(*groups[n:]) * unit_b)

        out[cell.name] = Planned(a.groups + b.groups, both, a.interval and b.interval)
    return out


def bootstrap(plan, resamples, seed, name):
    """95 % percentile interval (Efron & Tibshirani 1993) of the plan's statistic, all resamples at once.

    The random stream depends on the evaluation seed and the cell's name, so adding a cell leaves the
    other intervals unchanged. None when `resamples` is 0 or the statistic is undefined on a resample.
    """
    if resamples <= 0:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    picks = [rng.integers(0, len(g), size=(resamples, len(g))) for g in plan.groups]
    values = np.asarray(plan.statistic(*[g[pick] for g, pick in zip(plan.groups, picks)]), dtype=np.float64)
    if not np.all(np.isfinite(values)):
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]
