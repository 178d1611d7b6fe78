"""POPE (Li et al. 2023): yes/no object-existence questions; accuracy, precision, recall, F1, yes-ratio."""
import re

from pebench.metrics import METRICS, example
from pebench.metrics._checks import non_empty, same_length


def yes_no(text):
    """"yes", "no" or "" from the first yes/no word of an answer (POPE's parsing)."""
    match = re.search(r"\b(yes|no)\b", str(text or "").lower())
    return match.group(1) if match else ""


@METRICS.register()
@example(["Yes.", "no", "Yes, there is.", "No.", "a cat"], ["Yes.", "Yes.", "No.", "No.", "No."],
         expected=[1.0, 0.0, 0.0, 1.0, 0.0])
def pope_correct(predictions, answers):
    """Per sample, 1.0 when the prediction's yes/no equals the reference's (neither word = wrong)."""
    same_length("pope_correct", predictions, answers)
    return [float(yes_no(p) == yes_no(a) != "") for p, a in zip(predictions, answers)]


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
