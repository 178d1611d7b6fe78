"""Normalized scores, the overall score and the ranking of verified entries.

Normalization puts every metric on the scale the protocol defines by its two reference models: the
fine-tuned model (trained on everything, forgot nothing) scores 0 and the goal model (trained on the retain
set only, the retrain upper bound) scores 1:

    normalized = (value - finetuned) / (goal - finetuned)

The **overall score** rewards forgetting *and* keeping: it is the harmonic mean of the normalized
efficacy, generality, retain, scope and world scores, each clipped to [0, 1] first. The harmonic mean is
pulled towards the weakest metric, so a method that forgets everything but destroys the retain set (a
pattern PEBench reports for person unlearning) scores near 0, and one that keeps everything but forgets
nothing scores 0. A metric whose two references coincide (|goal - finetuned| < 1e-9) cannot be normalized
and is left out of the mean (shown as n/a).

Its interval is conservative: the overall score evaluated at every metric's 95% interval lower ends and
at its upper ends (from the per-sample bootstrap in the result). The harmonic mean grows with each
argument, so whenever every metric lies in its interval the overall score lies in this one.
"""
import math

OVERALL_METRICS = ("efficacy", "generality", "retain", "scope", "world")
FORGET_METRICS = ("efficacy", "generality")
DEGENERATE_SPAN = 1e-9


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


def metric_scores(aggregates, ci95, reference, metrics=OVERALL_METRICS):
    """Per metric: raw value, its 95% interval, normalized value and normalized interval.

    A metric without a value or without both reference values gets None where it cannot be computed.
    """
    out = {}
    for name in metrics:
        value, ci = aggregates.get(name), ci95.get(name)
        ft, goal = (reference.get(side, {}).get(name) for side in ("finetuned", "goal"))
        known = None not in (value, ft, goal)
        out[name] = {
            "value": value,
            "ci95": list(ci) if ci is not None else None,
            "normalized": normalize(value, ft, goal) if known else None,
            "normalized_ci95": normalize_interval(ci, ft, goal) if known and ci is not None else None,
        }
    return out


def overall(scores):
    """The overall score and its conservative interval from `metric_scores(...)` output."""
    point = harmonic_mean_clipped([scores[m]["normalized"] for m in OVERALL_METRICS])
    ends = [scores[m]["normalized_ci95"] for m in OVERALL_METRICS if scores[m]["normalized"] is not None]
    if point is None or any(e is None for e in ends):
        return point, None
    low = harmonic_mean_clipped([e[0] for e in ends])
    high = harmonic_mean_clipped([e[1] for e in ends])
    return point, [low, high]


def rank(rows):
    """Sort rows by overall score (best first; n/a last), then name, then file; give competition ranks.

    Scores equal to 9 decimals share a rank (1, 1, 3), so float noise cannot reorder a tie.
    """

    def key(row):
        score = row["overall"]
        return (score is None, -round(score, 9) if score is not None else 0.0, row["name"], row["file"])

    ordered = sorted(rows, key=key)
    previous, previous_rank = object(), 0
    for position, row in enumerate(ordered, start=1):
        score = None if row["overall"] is None else round(row["overall"], 9)
        row["rank"] = previous_rank if score == previous else position
        previous, previous_rank = score, row["rank"]
    return ordered
