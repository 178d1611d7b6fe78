"""POPE (Li et al. 2023): yes/no object-existence questions; accuracy, precision, recall, F1, yes-ratio."""
import re

import numpy as np

from pebench.metrics import METRICS, Cell, as_groups, declare, example, record_score, scores_of
from pebench.metrics._checks import non_empty, same_length
from pebench.schema import WORLD_OBJECT


def yes_no(text):
    """"yes" or "no" as POPE's own evaluation reads an answer (Li et al. 2023, `evaluate.py`).

    The first sentence (up to the first "."), commas removed, split on spaces: "no" or "not" among the
    words means "no", anything else "yes" (an empty answer too). One deviation: words are compared
    case-insensitively ("NOT" counts), where POPE matches "No", "no" and "not" only.
    """
    first = str(text or "").split(".")[0].replace(",", "")
    words = {w.casefold() for w in first.split()}
    return "no" if words & {"no", "not"} else "yes"


@METRICS.register()
@example(["Yes.", "no", "Yes, there is.", "No.", "a cat", "There is not a dog", "Yes, but there is no cat.",
          "Nope.", ""], ["Yes.", "Yes.", "No.", "No.", "No.", "No.", "No.", "No.", "Yes."],
         expected=[1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
def pope_correct(predictions, answers):
    """Per sample, 1.0 when the prediction's yes/no (`yes_no`, POPE's parsing) equals the reference's."""
    same_length("pope_correct", predictions, answers)
    return [float(yes_no(p) == yes_no(a)) for p, a in zip(predictions, answers)]


@METRICS.register()
@example(["Yes.", "no", "Yes, there is.", "No."], ["Yes.", "Yes.", "No.", "No."],
         expected={"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "yes_ratio": 0.5})
def pope(predictions, answers):
    """Corpus POPE scores with "yes" as the positive class, as fractions in [0, 1].

    accuracy = correct / n; precision = TP / (TP + FP); recall = TP / (TP + FN); F1 = their harmonic
    mean; yes_ratio = share of "yes" predictions (about 0.5 on a balanced set = no yes-bias).
    Precision/recall/F1 are 0 when undefined. Raw direction: higher is better except yes_ratio.
    """
    same_length("pope", predictions, answers)
    non_empty("pope", predictions, "answers")
    pred = [yes_no(p) == "yes" for p in predictions]
    gold = [yes_no(a) == "yes" for a in answers]
    tp = sum(p and g for p, g in zip(pred, gold))
    precision = tp / sum(pred) if sum(pred) else 0.0
    recall = tp / sum(gold) if sum(gold) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": sum(pope_correct(predictions, answers)) / len(pred), "precision": precision,
            "recall": recall, "f1": f1, "yes_ratio": sum(pred) / len(pred)}


@record_score(WORLD_OBJECT)
def score_pope(records, refs, judge=None, fresh=False):
    """Record scores of the world task: is the yes/no answer right?"""
    return pope_correct([r["prediction"] for r in records], [x["answer"] for x in refs])


def _pairs(view):
    """Rows of (predicted yes, answer yes) per world record: F1 and the yes-ratio resample them together."""
    rows = view.rows("world", WORLD_OBJECT, need=("prediction",))
    pairs = [[yes_no(r["prediction"]) == "yes", yes_no(a) == "yes"] for r, a in zip(rows, view.answers(rows))]
    return as_groups(np.array(pairs, dtype=np.float64).reshape(-1, 2))


def f1_percent(pairs):
    """POPE F1 in percent of "yes" as the positive class, per resample (0 when there is no true positive)."""
    predicted, actual = pairs[..., 0], pairs[..., 1]
    tp = (predicted * actual).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = tp / predicted.sum(axis=-1), tp / actual.sum(axis=-1)
        f1 = 100.0 * 2 * precision * recall / (precision + recall)
    return np.where(tp > 0, f1, 0.0)


def yes_percent(pairs):
    return 100.0 * pairs[..., 0].mean(axis=-1)


_WORLD = dict(metric="pope", splits=("world",), task=WORLD_OBJECT)
declare(
    Cell("world", "World", measure=scores_of("world", WORLD_OBJECT), scale=100.0, unit=0.01, column=5,
         board="keep", **_WORLD),
    Cell("world_f1", "World F1 (POPE)", measure=_pairs, statistic=f1_percent, unit=0.01, **_WORLD),
    Cell("world_yes_ratio", "World yes-ratio (POPE)", measure=_pairs, statistic=yes_percent, unit=0.01,
         direction="goal", **_WORLD),
)
