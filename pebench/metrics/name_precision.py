"""Name precision (PEBench person task)."""
from pebench.metrics import METRICS, Cell, declare, example, record_score, scores_of
from pebench.metrics._checks import same_length
from pebench.schema import PERSON_NAME


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


@record_score(PERSON_NAME)
def score_names(records, refs, judge=None, fresh=False):
    """Record scores of the person task: the name hit of each prediction."""
    return name_precision([r["prediction"] for r in records], [x["person_name"] for x in refs])


# Name precision in percent, as in PEBench v1 Table 1: forgotten = 100 - precision on the forget splits.
_FORGOT = dict(metric="name_precision", scale=-100.0, offset=100.0, unit=0.01, joint=True, block="person")
_KEPT = dict(metric="name_precision", scale=100.0, unit=0.01, joint=True)
declare(
    Cell("efficacy", "Efficacy", splits=("forget_train",), measure=scores_of("forget_train"), column=1,
         board="forget", **_FORGOT),
    Cell("generality", "Generality", splits=("forget_test",), measure=scores_of("forget_test"), column=2,
         board="forget", **_FORGOT),
    Cell("generality_unseen", "Generality (unseen renderings)", splits=("forget_unseen",),
         measure=scores_of("forget_unseen"), **_FORGOT),
    Cell("retain", "Retain", splits=("retain_test",), measure=scores_of("retain_test"), column=3, board="keep",
         block="person", **_KEPT),
    # The event target's scope: are the people in the forgotten events' images still named?
    Cell("scope", "Scope", splits=("scope",), measure=scores_of("scope", "other"), task="other", column=4,
         board="keep", block="event", **_KEPT),
)
