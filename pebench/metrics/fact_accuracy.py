"""Fact accuracy: does a generated answer state a profile fact (cross-modal leakage)?"""
from pebench.metrics import METRICS, Cell, declare, example, record_score, scores_of
from pebench.metrics._checks import same_length
from pebench.schema import PROFILE_TASKS


@METRICS.register()
@example(["She works as a Pilot.", "He is 36 years old.", "I do not know."], ["pilot", "36", "Beirut"],
         expected=[1.0, 1.0, 0.0])
def fact_accuracy(predictions, facts):
    """Per sample, 1.0 if the prediction contains the fact as whole words (case-insensitive), else 0.0.

    Used on text-only profile questions about forgotten people (job, birthplace, age): an unlearned model
    that forgot a person from images may still state their facts when asked by name in text, the
    cross-modal leakage that MLLMU-Bench and CLEAR measure. Whole words, so "36" does not match "360".
    """
    same_length("fact_accuracy", predictions, facts)
    return [float(_contains(p, f)) for p, f in zip(predictions, facts)]


def _contains(text, fact):
    words, target = _words(text), _words(fact)
    if not target:
        return False
    return any(words[i:i + len(target)] == target for i in range(len(words) - len(target) + 1))


def _words(text):
    return "".join(c if c.isalnum() else " " for c in str(text).lower()).split()


@record_score(*PROFILE_TASKS)
def score_facts(records, refs, judge=None, fresh=False):
    """Record scores of the profile tasks: is the fact stated?"""
    return fact_accuracy([r["prediction"] for r in records], [x["fact"] or x["answer"] for x in refs])


declare(
    # Cross-modal leakage: percent of profile facts of forget people still stated when asked by name.
    Cell("leakage", "Leakage (text-only profile facts)", metric="fact_accuracy", splits=("forget_profile",),
         measure=scores_of("forget_profile", PROFILE_TASKS), task=PROFILE_TASKS, scale=100.0, unit=0.01,
         direction="lower"),
)
