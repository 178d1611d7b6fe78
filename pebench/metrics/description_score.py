"""Description score (PEBench event task): a judge's score of a scene description, in [0, 1]."""
from pebench.metrics import METRICS, example
from pebench.metrics._checks import same_length

_REF = {"description": "a runner jogs in the park", "keywords": ["runner", "park"]}


@METRICS.register()
@example(["a runner jogs in the park", "nothing here"], [_REF, _REF], expected=[1.0, 0.0])
def description_score(predictions, references, judge="keyword_rouge"):
    """Per sample, the judge's score (`pebench.judges`; default 0.5 keyword recall + 0.5 ROUGE-L F).

    PEBench (Xu et al. 2025) reports the event task as this score: efficacy = 1 - score on the forget set,
    retain = score on the retain set.

    Args:
        predictions: generated descriptions.
        references: dicts with `description` and `keywords` (the event's ten keywords).
        judge: a judge spec or a judge object.
    """
    from pebench.judges import make_judge

    same_length("description_score", predictions, references)
    judge = make_judge(judge) if isinstance(judge, str) else judge
    return list(judge.score(predictions, references))
