"""Name precision (PEBench person task)."""
from pebench.metrics import METRICS, example
from pebench.metrics._checks import same_length


@METRICS.register()
@example(["This is Ada Lovelace.", "this is ADA  LOVELACE", "This is Ada.", ""],
         ["Ada Lovelace"] * 4, expected=[1.0, 1.0, 0.0, 0.0])
def name_precision(predictions, names):
    """Per sample, 1.0 if the prediction contains the person's full name (case-insensitive), else 0.0.

    PEBench (Xu et al. 2025, arXiv 2503.12545) scores the person task by exact match of the name in the
    generated answer; the cells report the mean x 100. Runs of whitespace count as one space. A partial
    name (first name only) is a miss. Raw direction: higher = the model still names the person.

    Args:
        predictions: generated answers.
        names: the full names (same length).
    """
    same_length("name_precision", predictions, names)
    return [float(bool(name) and _norm(name) in _norm(pred)) for pred, name in zip(predictions, names)]


def _norm(text):
    return " ".join(str(text or "").lower().split())
