"""Normalized scores, the overall score and the ranking of verified entries.

Normalization puts every metric on the scale the protocol defines by its two reference models: the
fine-tuned model (trained on everything, forgot nothing) scores 0 and the goal model (trained on the retain
set only, the retrain upper bound) scores 1 (`pebench.results.normalize`, shown in `leaderboard.csv`):

    normalized = (value - finetuned) / (goal - finetuned)

That scale suits the *forget* metrics (efficacy, generality), where the two references are far apart. On
the *keep* metrics (retain, scope, world) both references are good and nearly equal (PEBench v1: retain
97.5 vs 96.4, POPE 85.9 vs 87.5), so the span is a few points of noise and can even flip sign: a method
that collapsed retain from 96 to 21 would get +66. The overall score therefore uses, per metric:

    forget metrics:  score = clip(normalized, 0, 1)
    keep metrics:    score = clip(value / goal, 0, 1)      (share of the goal model's utility kept)

Which column is a forget or a keep metric is declared by its cell (`pebench.metrics`, `board=`).
The **overall score** is the harmonic mean of the column scores (efficacy, generality, retain, scope,
world). It is pulled towards the weakest one, so forgetting everything while destroying the retain set (a
pattern PEBench reports for person unlearning) scores low, and keeping everything while forgetting
nothing scores 0. A metric that cannot be scored (references coincide, goal value 0) is left out (n/a).

**Robust efficacy** (`robust_efficacy`) asks whether the forgetting survives the attack probes
(`pebench.probes`): each probe's recovery r (the share of the fine-tuned/goal gap an attack brings back
beyond what it brings back to the goal model) lowers the efficacy score,

    robust efficacy score = clip(normalized efficacy - max(0, max over probes of r), 0, 1)

over every probe the board's goal reference ran (its control); an entry missing one of them (not run,
records deleted) has no robust efficacy ("not run") and no robust overall. The **robust overall** is
the overall score with efficacy replaced by robust efficacy; the board ranks by both.

Its interval is conservative: the overall score evaluated at every metric's 95% interval lower ends and
at its upper ends (from the per-sample bootstrap in the result). The harmonic mean grows with each
score, so whenever every metric lies in its interval the overall score lies in this one.
"""
import math

DEGENERATE_SPAN = 1e-9


def overall_metrics():
    """The board's columns, from the metric table (`pebench.metrics.columns()`), in order."""
    from pebench.metrics import columns

    return tuple(cell.name for cell in columns())


def board_kinds():
    """{column: "forget" | "keep"}: how each column is scored (declared by its cell)."""
    from pebench.metrics import columns

    return {cell.name: cell.board for cell in columns()}


def normalize(value, finetuned, goal):
    """Map `value` so that `finetuned` -> 0 and `goal` -> 1; None when the two references coincide."""
    span = goal - finetuned
    if abs(span) < DEGENERATE_SPAN:
        return None
    return (value - finetuned) / span


def normalize_interval(interval, finetuned, goal):
    """Normalize both ends of a [low, high] interval (the map may flip them when goal < finetuned)."""
    ends = [normalize(x, finetuned, goal) for x in interval]
    if None in ends:
        return None
    return [min(ends), max(ends)]


def harmonic_mean_clipped(values):
    """Harmonic mean of values clipped to [0, 1]; any 0 gives 0; None entries are skipped."""
    clipped = [min(1.0, max(0.0, v)) for v in values if v is not None]
    if not clipped:
        return None
    if min(clipped) == 0.0:
        return 0.0
    return len(clipped) / math.fsum(1.0 / v for v in clipped)


def clip01(value):
    return None if value is None else min(1.0, max(0.0, value))


def keep_share(value, goal):
    """`value / goal`: the share of the goal model's score kept; None if the goal scored 0 or less."""
    return None if goal is None or goal <= 0 else value / goal


def metric_scores(aggregates, ci95, reference, metrics=None):
    """Per metric: raw value and 95% interval, normalized value and interval (fine-tuned 0, goal 1), and
    the clipped score (and interval) that enters the overall score.

    A metric without a value or without both reference values gets None where it cannot be computed.
    """
    kinds = board_kinds()
    out = {}
    for name in metrics or overall_metrics():
        value, ci = aggregates.get(name), ci95.get(name)
        ft, goal = (reference.get(side, {}).get(name) for side in ("finetuned", "goal"))
        known = None not in (value, ft, goal)
        norm = normalize(value, ft, goal) if known else None
        norm_ci = normalize_interval(ci, ft, goal) if known and ci is not None else None
        if kinds.get(name) == "keep":
            score = keep_share(value, goal) if value is not None else None
            score_ci = [keep_share(x, goal) for x in ci] if ci is not None and score is not None else None
        else:
            score, score_ci = norm, norm_ci
        out[name] = {
            "value": value, "ci95": list(ci) if ci is not None else None,
            "normalized": norm, "normalized_ci95": norm_ci,
            "score": clip01(score), "score_ci95": [clip01(x) for x in score_ci] if score_ci else None,
        }
    return out


def overall(scores):
    """The overall score and its conservative interval from `metric_scores(...)` output."""
    point = harmonic_mean_clipped([s["score"] for s in scores.values()])
    ends = [s["score_ci95"] for s in scores.values() if s["score"] is not None]
    if point is None or any(e is None for e in ends):
        return point, None
    low = harmonic_mean_clipped([e[0] for e in ends])
    high = harmonic_mean_clipped([e[1] for e in ends])
    return point, [low, high]


def rank(rows, by="overall", into="rank"):
    """Sort rows by a score (best first; n/a last), then name, then file; give competition ranks in `into`.

    Scores equal to 9 decimals share a rank (1, 1, 3), so float noise cannot reorder a tie.
    """

    def key(row):
        score = row[by]
        return (score is None, -round(score, 9) if score is not None else 0.0, row["name"], row["file"])

    ordered = sorted(rows, key=key)
    previous, previous_rank = object(), 0
    for position, row in enumerate(ordered, start=1):
        score = None if row[by] is None else round(row[by], 9)
        row[into] = previous_rank if score == previous else position
        previous, previous_rank = score, row[into]
    return ordered


def robust_efficacy(aggregates, ci95, reference, states, efficacy):
    """The efficacy lowered by the worst probe recovery, or why there is none.

    Args:
        aggregates, ci95: the entry's recomputed numbers (`{probe}:recovery[_block]` among them).
        reference: the board's {"goal": aggregates, "finetuned": aggregates}; the probes its goal ran are
            the ones required.
        states: `pebench.probes.state(result)`, for the reason a probe is missing.
        efficacy: `metric_scores(...)["efficacy"]`.

    Returns:
        {"value", "normalized", "score", "score_ci95", "worst", "probes", "reason"}: value on the
        efficacy's own scale; `worst` the probe with the largest recovery; reason None when computed.
    """
    from pebench.probes import PROBES, SEP

    goal, finetuned = reference.get("goal") or {}, reference.get("finetuned") or {}
    required = sorted({k.split(SEP)[0] for k in goal if SEP in k and k.split(SEP)[0] in PROBES
                       and PROBES.get(k.split(SEP)[0]).headline})
    out = {"value": None, "normalized": None, "score": None, "score_ci95": None, "worst": None,
           "probes": required, "reason": None}
    if not required:
        out["reason"] = "not run (the board's goal reference ran no probes)"
        return out
    recovery, missing = {}, []
    for probe in required:
        names = [k for k in aggregates if k.split(SEP)[0] == probe and k.split(SEP)[1].startswith("recovery")]
        if not names:
            missing.append(f"{probe} ({states.get(probe, 'no records')})")
            continue
        worst = max(names, key=lambda k: aggregates[k])
        recovery[probe] = (aggregates[worst], (ci95.get(worst) or [aggregates[worst]] * 2))
    if missing or efficacy["normalized"] is None:
        out["reason"] = "not run: " + "; ".join(missing) if missing else "efficacy is not normalized"
        return out
    probe = max(recovery, key=lambda p: recovery[p][0])
    worst, (low, high) = max(0.0, recovery[probe][0]), recovery[probe][1]
    worst_high = max(0.0, max(ci[1] for _, ci in recovery.values()))
    worst_low = max(0.0, max(ci[0] for _, ci in recovery.values()))
    span = goal.get("efficacy", 0.0) - finetuned.get("efficacy", 0.0)
    out.update(value=efficacy["value"] - worst * span, normalized=efficacy["normalized"] - worst,
               score=clip01(efficacy["normalized"] - worst), worst=probe if worst > 0 else None)
    norm_ci = efficacy["normalized_ci95"]
    if norm_ci is not None:
        out["score_ci95"] = [clip01(norm_ci[0] - worst_high), clip01(norm_ci[1] - worst_low)]
    return out


def robust_overall(scores, robust):
    """The overall score (and interval) with efficacy's score replaced by robust efficacy's; None if not run."""
    if robust["score"] is None:
        return None, None
    swapped = dict(scores)
    swapped["efficacy"] = {**scores["efficacy"], "score": robust["score"], "score_ci95": robust["score_ci95"]}
    return overall(swapped)


def mean_std(values):
    """[mean, sample std (n - 1)] of the values that are not None; std None below two values."""
    values = [v for v in values if v is not None]
    if not values:
        return [None, None]
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return [mean, std]
