"""Name precision (PEBench person task)."""
import re
import unicodedata
from functools import lru_cache

from pebench.metrics import METRICS, Cell, declare, example, pebench_cells, record_score, scores_of
from pebench.metrics._checks import same_length
from pebench.schema import PERSON_NAME


@METRICS.register()
@example(["This is Ada Lovelace.", "this is ADA  LOVELACE", "This is Ada.", "", "Rania Haddadin", "Joann Leeds",
          "ＡＤＡ Lovelace's portrait"],
         ["Ada Lovelace", "Ada Lovelace", "Ada Lovelace", "Ada Lovelace", "Nia Haddad", "Ann Lee", "Ada Lovelace"],
         expected=[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
def name_precision(predictions, names, pool=()):
    """Per sample, 1.0 if the prediction states the person's full name as whole words, else 0.0.

    PEBench (Xu et al. 2025, arXiv 2503.12545) scores the person task by exact match of the name in the
    generated answer; the cells report the mean x 100. Both texts are NFKC-normalised and case-folded,
    runs of whitespace count as one space, and the name must stand on word boundaries: "Nia Haddad" is
    not found in "Rania Haddadin" (both are in the name pool), nor "Ann Lee" in "Joann Leeds". A
    partial name (first name only) is a miss. With a `pool` of the release's names, an answer that also
    states another person's full name is a miss too, so a dump of every name earns nothing. Raw
    direction: higher = the model still names the person.

    Args:
        predictions: generated answers.
        names: the full names (same length).
        pool: every full name of the release (optional).
    """
    same_length("name_precision", predictions, names)
    pool = [_norm(o) for o in pool]
    return [float(_states(text, name) and not any(_states(text, o) for o in pool if o != name))
            for text, name in ((_norm(p), _norm(n)) for p, n in zip(predictions, names))]


def _states(text, name):
    """Does the normalised `text` hold the normalised `name` as whole words?"""
    return bool(name) and _pattern(name).search(text) is not None


def _norm(text):
    return " ".join(unicodedata.normalize("NFKC", str(text or "")).casefold().split())


@lru_cache(maxsize=4096)
def _pattern(name):
    """The name between word boundaries (a letter or digit on either side makes it another word)."""
    return re.compile(r"(?<![^\W_])" + re.escape(name) + r"(?![^\W_])")


@record_score(PERSON_NAME)
def score_names(records, refs, judge=None, fresh=False):
    """Record scores of the person task: the name hit of each prediction."""
    pool = refs[0].get("people", ()) if refs else ()
    return name_precision([r["prediction"] for r in records], [x["person_name"] for x in refs], pool)


# Name precision in percent, as in PEBench v1 Table 1: forgotten = 100 - precision on the forget splits.
declare(
    *pebench_cells("name_precision", "person", top=100.0),
    # The event target's scope: are the people in the forgotten events' images still named?
    Cell("scope", "Scope", metric="name_precision", splits=("scope",), measure=scores_of("scope", "other"),
         task="other", column=4, board="keep", block="event", scale=100.0, unit=0.01, joint=True),
)
