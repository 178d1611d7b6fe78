"""Description score (PEBench event task): a judge's score of a scene description, in [0, 1]."""
from pebench.errors import UserError
from pebench.metrics import METRICS, declare, example, pebench_cells, record_score
from pebench.metrics._checks import same_length
from pebench.schema import EVENT_DESCRIPTION

_REF = {"description": "a runner jogs in the park", "keywords": ["runner", "park"]}


@METRICS.register()
@example(["a runner jogs in the park", "nothing here"], [_REF, _REF], expected=[1.0, 0.0])
def description_score(predictions, references, judge="keyword_rouge"):
    """Per sample, a judge's score (`pebench.judges`; here 0.5 keyword recall + 0.5 ROUGE-L F by default).

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


@record_score(EVENT_DESCRIPTION)
def score_descriptions(records, refs, judge, fresh=False):
    """Record scores of the event task from the judge.

    `fresh`: ask the judge even if it is not deterministic (at evaluation time); otherwise such a
    judge's stored scores are kept, since a reader cannot re-run it.
    """
    if not (judge.deterministic or fresh):
        if any("score" not in r for r in records):
            raise UserError(f"judge {judge.name!r} is not deterministic and records lack stored scores")
        return [r["score"] for r in records]
    references = [{"event_id": x.get("event_id", ""), "description": x["answer"], "keywords": x["keywords"]}
                  for x in refs]
    if getattr(judge, "needs_events", False):  # a discriminative judge compares with every event of the release
        events = refs[0].get("events") if refs else None
        return list(judge.score([r["prediction"] for r in records], references, events=events))
    return description_score([r["prediction"] for r in records], references, judge)


# The judge score in [0, 1], as in PEBench v1 Table 1: forgotten = 1 - score on the forget splits.
declare(*pebench_cells("description_score", "event", top=1.0))
