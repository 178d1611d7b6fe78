"""The evaluation suite: which metric, on which records, at which scale, makes each aggregate.

This is where "higher is better" is decided (the metrics only measure). PEBench cells keep the scale of
PEBench v1 Table 1: for the person target efficacy/generality/retain/scope-of-event are name precision
in percent and ROUGE-L in [0, 1]; for the event target the judge score is in [0, 1] and the scope (name
precision on forget-event images) in percent; POPE in percent. For the joint target each block is
prefixed `person_` / `event_`, and the unprefixed headline cells are the mean of the two blocks, each
put on a [0, 1] scale first (percentages / 100).

Every cell is a statistic of one or more groups of per-sample values, so its 95 % interval is a seeded
percentile bootstrap over the same groups (`_bootstrap.bootstrap_ci`). Forget quality has no interval
(a bootstrap of a KS p-value against fixed goal values is not meaningful).
"""
import math
from typing import Callable, NamedTuple

import numpy as np

from pebench.metrics._bootstrap import bootstrap_ci
from pebench.metrics.auc import mia_auc, privleak
from pebench.metrics.forget_quality import forget_quality
from pebench.metrics.mia_scores import mia_loss, mia_min_k, mia_min_k_plus_plus, mia_zlib
from pebench.metrics.pope import yes_no
from pebench.metrics.rouge_l import rouge_l_recall
from pebench.metrics.truth_ratio import truth_ratio, truth_ratio_forget, truth_ratio_retain
from pebench.schema import EVENT_DESCRIPTION, PERSON_NAME, PROFILE_TASKS, WORLD_OBJECT

BLOCKS = {"person": (PERSON_NAME, EVENT_DESCRIPTION), "event": (EVENT_DESCRIPTION, PERSON_NAME)}
JOINT_CELLS = ("efficacy", "generality", "generality_unseen", "retain", "scope")
MIA_SCORES = ("loss", "zlib", "min_k", "min_k_plus_plus")


class Cell(NamedTuple):
    groups: list  # numpy arrays of per-sample values (a 2-D array resamples whole rows)
    statistic: Callable  # statistic(*groups) -> float or None
    scale: float = 1.0  # factor to a [0, 1] scale (used only for the joint headline)


def compute(result, refs):
    """{name: {"value", "ci95"}} for every cell whose rows exist, from records (with scores) and refs."""
    target = result["dataset"]["target"]
    seed, resamples = result["eval"]["seed"], result["eval"]["bootstrap"]
    rec = Records(result["records"], refs)
    cells = {**world_cells(rec), **leakage_cells(rec)}
    blocks = ("person", "event") if target == "joint" else (target,)
    for kind in blocks:
        prefix = f"{kind}_" if target == "joint" else ""
        forget_task, _ = BLOCKS[kind]
        block = pebench_cells(rec, kind)
        block.update(tofu_cells(rec, forget_task))
        block.update(mia_cells(rec, forget_task, result.get("reference", {}).get("goal") or {}, prefix))
        cells.update({prefix + name: cell for name, cell in block.items()})
    if target == "joint":
        cells.update(joint_cells(cells))
    out = {}
    for name, cell in sorted(cells.items()):
        if any(len(g) == 0 for g in cell.groups):
            continue
        value = cell.statistic(*cell.groups)
        if value is not None:
            ci = bootstrap_ci(cell.statistic, cell.groups, resamples=resamples, seed=seed, name=name)
            out[name] = {"value": float(value), "ci95": ci}
    for kind in blocks:
        prefix = f"{kind}_" if target == "joint" else ""
        out.update(quality_cells(rec, BLOCKS[kind][0], result, prefix))
    return out


class Records:
    """Records grouped by (split, task), each group sorted by id (so record order never matters)."""

    def __init__(self, records, refs):
        self.refs = refs
        self.groups = {}
        for record in sorted(records, key=lambda r: (r["split"], r["task"], r["id"])):
            self.groups.setdefault((record["split"], record["task"]), []).append(record)

    def get(self, split, task=None, need=()):
        tasks = [task] if task else sorted({t for s, t in self.groups if s == split})
        rows = [r for t in tasks for r in self.groups.get((split, t), [])]
        return [r for r in rows if all(r.get(k) is not None for k in need)]

    def scores(self, split, task):
        return np.array([r["score"] for r in self.get(split, task, need=("score",))], dtype=np.float64)

    def answers(self, rows):
        return [self.refs[(r["split"], r["id"])]["answer"] for r in rows]


def _mean(scale=1.0, offset=0.0):
    return lambda a: offset + scale * float(a.mean())


# ------------------------------------------------------------------------------- PEBench cells
def pebench_cells(rec, kind):
    """efficacy, generality(_unseen), retain, scope of one block (person or event) at PEBench's scale."""
    forget_task, other_task = BLOCKS[kind]
    if kind == "person":  # name precision in percent
        forgot, kept, unit = _mean(-100.0, 100.0), _mean(100.0), 0.01
        scope_rows = rec.get("scope", other_task, need=("prediction",))
        scope = Cell([np.array(rouge_l_recall([r["prediction"] for r in scope_rows], rec.answers(scope_rows)))],
                     _mean(), 1.0)
    else:  # judge score in [0, 1]
        forgot, kept, unit = _mean(-1.0, 1.0), _mean(), 1.0
        scope = Cell([rec.scores("scope", other_task)], _mean(100.0), 0.01)
    return {
        "efficacy": Cell([rec.scores("forget_train", forget_task)], forgot, unit),
        "generality": Cell([rec.scores("forget_test", forget_task)], forgot, unit),
        "generality_unseen": Cell([rec.scores("forget_unseen", forget_task)], forgot, unit),
        "retain": Cell([rec.scores("retain_test", forget_task)], kept, unit),
        "scope": scope,
    }


def joint_cells(cells):
    """Headline cells of the joint target: mean of the person and event blocks on a [0, 1] scale."""
    out = {}
    for name in JOINT_CELLS:
        a, b = cells.get(f"person_{name}"), cells.get(f"event_{name}")
        if a is None or b is None:
            continue
        n = len(a.groups)

        def both(*groups, a=a, b=b, n=n):
            x, y = a.statistic(*groups[:n]), b.statistic(*groups[n:])
            return None if x is None or y is None else 0.5 * (x * a.scale + y * b.scale)

        out[name] = Cell(a.groups + b.groups, both)
    return out


def world_cells(rec):
    """POPE on the `world` config, in percent: accuracy ("world"), F1 and the yes-ratio."""
    rows = rec.get("world", WORLD_OBJECT, need=("prediction",))
    pairs = np.array([[yes_no(r["prediction"]) == "yes", yes_no(a) == "yes"]
                      for r, a in zip(rows, rec.answers(rows))], dtype=np.float64).reshape(-1, 2)
    return {"world": Cell([rec.scores("world", WORLD_OBJECT)], _mean(100.0)),
            "world_f1": Cell([pairs], _f1),
            "world_yes_ratio": Cell([pairs[:, 0]], _mean(100.0))}


def _f1(pairs):
    tp = float((pairs[:, 0] * pairs[:, 1]).sum())
    predicted, actual = float(pairs[:, 0].sum()), float(pairs[:, 1].sum())
    if not tp:
        return 0.0
    precision, recall = tp / predicted, tp / actual
    return 100.0 * 2 * precision * recall / (precision + recall)


def leakage_cells(rec):
    """Cross-modal leakage: percent of profile facts of forget people still stated (lower is better)."""
    hits = [r["score"] for t in PROFILE_TASKS for r in rec.get("forget_profile", t, need=("score",))]
    return {"leakage": Cell([np.array(hits, dtype=np.float64)], _mean(100.0))}


# ---------------------------------------------------------------------------------- TOFU cells
def tofu_cells(rec, task):
    """Answer probability, ROUGE-L recall and truth ratio on forget_train and retain_test (TOFU)."""
    out = {}
    for side, split in (("forget", "forget_train"), ("retain", "retain_test")):
        rows = rec.get(split, task, need=("logprobs",))
        probs = [math.exp(float(np.mean(r["logprobs"]))) for r in rows if r["logprobs"]]
        out[f"tofu_answer_prob_{side}"] = Cell([np.array(probs)], _mean())
        gen = rec.get(split, task, need=("prediction",))
        out[f"tofu_rougeL_{side}"] = Cell([np.array(rouge_l_recall([r["prediction"] for r in gen],
                                                                   rec.answers(gen)))], _mean())
        ratios = _ratios(rec.get(split, task, need=("paraphrase_nll", "perturbed_nll")))
        fold = truth_ratio_forget if side == "forget" else truth_ratio_retain
        out[f"tofu_truth_ratio_{side}"] = Cell([np.array(fold(ratios) if ratios else [])], _mean())
    return out


def _ratios(rows):
    rows = [r for r in rows if r["perturbed_nll"]]
    return truth_ratio([r["paraphrase_nll"] for r in rows], [r["perturbed_nll"] for r in rows])


def item_truth_ratios(records, task):
    """{id: R} on forget_train rows of `task`: what a goal model's result lends to forget quality."""
    rows = [r for r in records if r["split"] == "forget_train" and r["task"] == task
            and r.get("paraphrase_nll") is not None and r.get("perturbed_nll")]
    return dict(zip([r["id"] for r in rows], _ratios(rows)))


def quality_cells(rec, task, result, prefix):
    """Forget quality: KS p-value (and D) of forget_train truth ratios against the goal model's."""
    goal = ((result.get("reference_info") or {}).get("goal") or {}).get("truth_ratio") or {}
    mine = item_truth_ratios(rec.get("forget_train", task), task)
    ids = sorted(set(mine) & set(goal))
    if not ids:
        return {}
    test = forget_quality([mine[i] for i in ids], [goal[i] for i in ids])
    return {f"{prefix}forget_quality": {"value": test["p_value"], "ci95": None},
            f"{prefix}forget_quality_D": {"value": test["statistic"], "ci95": None}}


# ----------------------------------------------------------------------------------- MIA cells
def mia_cells(rec, task, goal, prefix):
    """AUC of forget_train (members) vs forget_unseen + holdout (non-members) per score; privleak vs goal."""
    members = rec.get("forget_train", task, need=("logprobs", "mean", "std"))
    others = [r for s in ("forget_unseen", "holdout") for r in rec.get(s, task, need=("logprobs", "mean", "std"))]
    out = {}
    for name in MIA_SCORES:
        m, n = np.array(_mia(name, members, rec)), np.array(_mia(name, others, rec))
        out[f"mia_auc_{name}"] = Cell([m, n], mia_auc)
        goal_auc = goal.get(f"{prefix}mia_auc_{name}")
        if goal_auc is not None and goal_auc < 1.0:
            out[f"privleak_{name}"] = Cell([m, n], lambda a, b, g=goal_auc: privleak(mia_auc(a, b), g))
    return out


def _mia(name, rows, rec):
    rows = [r for r in rows if r["logprobs"]]
    lps = [r["logprobs"] for r in rows]
    if not rows:
        return []
    if name == "loss":
        return mia_loss(lps)
    if name == "zlib":
        return mia_zlib(lps, rec.answers(rows))
    if name == "min_k":
        return mia_min_k(lps)
    return mia_min_k_plus_plus(lps, [r["mean"] for r in rows], [r["std"] for r in rows])
