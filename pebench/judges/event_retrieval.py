"""A discriminative offline description judge: a description earns credit for its event only as far as
it singles that event out among all events of the release (a retrieval view of the event task)."""
import math
from collections import Counter
from functools import lru_cache

import numpy as np

from pebench.errors import UserError
from pebench.judges import JUDGES
from pebench.metrics.rouge_l import tokenize

# Function words: they carry no scene content. CIDEr-D's IDF already silences words that every event
# uses, but in a small release a word like "with" may occur in one event only and gain full weight.
STOPWORDS = (
    "a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "from", "with", "without",
    "by", "as", "into", "onto", "over", "under", "near", "next", "behind", "through", "across", "along", "past",
    "up", "down", "out", "off", "about", "around", "is", "are", "was", "were", "be", "been", "being", "am",
    "has", "have", "had", "having", "do", "does", "did", "it", "its", "this", "that", "these", "those", "there",
    "here", "i", "me", "my", "you", "your", "he", "him", "his", "she", "her", "they", "them", "their", "we",
    "us", "our", "not", "no", "can", "cannot", "could", "would", "should", "will", "shall", "may", "might",
    "must", "some", "any", "very", "so", "than", "then", "too", "also", "just", "s", "t", "while", "where",
    "who", "what", "which", "if", "each", "all", "both", "such", "only",
)
EVENT_FIELDS = ("id", "description", "paraphrase", "keywords")
# Fewest distinct weighted words a description must share with its event to earn anything: one shared
# word can be a coincidence of ordinary English ("Sorry, I can't help with that." and "is helping at a
# charity fundraiser"); every catalogue event has 11-15 weighted words.
MIN_SHARED_WORDS = 2


@lru_cache(maxsize=1)
def _stop_stems():
    return frozenset(t for word in STOPWORDS for t in _rouge_tokens(word))


def _rouge_tokens(text):
    """rouge_score's stemmed tokens, the same as the `keyword_rouge` judge's (`rouge_l.tokenize`)."""
    return tokenize(text)


def content_words(text):
    """Stemmed tokens of `text` without function words (`STOPWORDS`, stemmed the same way)."""
    stop = _stop_stems()
    return [t for t in _rouge_tokens(text) if t not in stop]


def event_text(event):
    """What an event is recognised by: its description, paraphrase and evaluation keywords."""
    return " ".join([event["description"], event["paraphrase"], " ".join(event["keywords"])])


class EventIndex:
    """IDF-weighted word-set unit vectors of a release's events (CIDEr-D's IDF), rows in event-id order.

    Built once per distinct set of events; `match(text)` is then one sparse dot product.
    """

    def __init__(self, records):
        """`records`: (event id, event text) pairs sorted by id."""
        self.ids = [event_id for event_id, _ in records]
        self.row = {event_id: r for r, event_id in enumerate(self.ids)}
        word_sets = [set(content_words(text)) for _, text in records]
        df = Counter(w for words in word_sets for w in words)
        self.column = {w: j for j, w in enumerate(sorted(df))}
        self.idf = np.array([math.log(len(records) / df[w]) for w in sorted(df)])
        matrix = np.zeros((len(records), len(self.column)))
        for r, words in enumerate(word_sets):
            for w in words:
                matrix[r, self.column[w]] = self.idf[self.column[w]]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

    def match(self, text):
        """(cosines, shared): per event, the cosine of `text`'s vector with the event's (0 when either
        is 0) and how many distinct weighted words the two share.

        Words of no event are dropped: they are evidence for none, and keeping them would only shrink
        every cosine alike, penalising a correct description for its extra details.
        """
        columns = np.array(sorted({self.column[w] for w in content_words(text) if w in self.column}),
                           dtype=np.intp)
        weights = self.idf[columns]
        norm = math.sqrt(math.fsum(weights * weights))
        if norm == 0.0:
            return np.zeros(len(self.ids)), np.zeros(len(self.ids), dtype=int)
        block = self.unit[:, columns]
        # elementwise product and row sums rather than BLAS: bitwise the same result on every call
        return (block * (weights / norm)).sum(axis=1), (block > 0).sum(axis=1)


def ratio_test_score(cosines, target):
    """1 - d_t / min over e != t of d_e, with d = 1 - cosine, clipped to [0, 1]; 0 when another event
    is matched perfectly (d_e = 0)."""
    nearest_other = 1.0 - max(float(c) for r, c in enumerate(cosines) if r != target)
    if nearest_other <= 0.0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - (1.0 - float(cosines[target])) / nearest_other))


def _release_records(events):
    """(id, text) per event sorted by id: the cache key, and what makes scores independent of the
    order the events come in."""
    if events is None:
        raise UserError("judge 'event_retrieval' needs the release's events (events=None); "
                        "pass them, or use --judge keyword_rouge")
    for event in events:
        missing = [f for f in EVENT_FIELDS if f not in event]
        if missing:
            raise UserError(f"judge 'event_retrieval': event {event.get('id', '?')!r} lacks {', '.join(missing)}")
    ids = [str(e["id"]) for e in events]
    if len(set(ids)) != len(ids):
        raise UserError(f"judge 'event_retrieval': duplicate event ids in {sorted(ids)}")
    if len(ids) < 2:
        raise UserError(f"judge 'event_retrieval' needs at least 2 events to tell apart (got {len(ids)}); "
                        "use --judge keyword_rouge")
    return tuple(sorted((str(e["id"]), event_text(e)) for e in events))


def _target_rows(references, index):
    rows = []
    for i, ref in enumerate(references):
        if "event_id" not in ref:
            raise UserError(f"judge 'event_retrieval': reference {i} has no event_id")
        if str(ref["event_id"]) not in index.row:
            shown = ", ".join(index.ids[:5]) + (", ..." if len(index.ids) > 5 else "")
            raise UserError(f"judge 'event_retrieval': event_id {ref['event_id']!r} of reference {i} is not "
                            f"among the release's {len(index.ids)} events ({shown})")
        rows.append(index.row[str(ref["event_id"])])
    return rows


@JUDGES.register("event_retrieval")
class EventRetrievalJudge:
    """score = how clearly the description picks its own event out of all M events of the release.

    Definition:
      1. Words: rouge_score tokens (lower-case alphanumeric, Porter-stemmed), minus `STOPWORDS`.
      2. W_e = the set of words of event e's description + paraphrase + keywords. idf(w) = ln(M / df(w)),
         df(w) = number of events whose W_e holds w (CIDEr-D's weighting across the reference set: a word
         every event uses weighs 0). v_e[w] = idf(w) for w in W_e, else 0.
      3. Prediction: P = its set of words that are in some W_e; v_p[w] = idf(w) for w in P.
      4. c_e = cos(v_p, v_e) (0 if either vector is 0); d_e = 1 - c_e.
      5. For the target event t: score = clip(1 - d_t / min_{e != t} d_e, 0, 1); but 0 if that minimum
         is 0, or if P and W_t share fewer than `MIN_SHARED_WORDS` (2) words of idf > 0.
    Empty predictions and refusals score exactly 0.

    Why: `keyword_rouge` rewards text that ignores the image (a dump of every keyword gets 71 % of a
    paraphrase's score; a goal model that never saw an event gets 0.50 where PEBench's GPT-4 judge gives
    ~0.03). Step 5 is Lowe's ratio test (IJCV 2004): a match counts when the nearest candidate is much
    closer than the runner-up. Equivalently (c_t - c_o) / (1 - c_o) with c_o the best other event: the
    share of the gap between the runner-up and a perfect match that the description closes. So 1 needs
    a perfect match, a tie with another event gives 0, and text that fits every event alike (a keyword
    dump, a generic scene) gives about 0, whatever M is. Words count once (sets, not CIDEr-D's term
    counts): the event text repeats each object in three renderings, so counts would weigh the template,
    and a description should gain nothing by repeating a word. The reference's own `description` and
    `keywords` are not used: the target is represented exactly like its competitors, by its event record.
    Limits: words of no event (hallucinated details) are ignored, not penalised; the event's keywords
    alone get most of the credit (all of it where they hold every weighted word of the description),
    since they are what tells the events apart.
    """

    deterministic = True
    needs_events = True
    version = "1"

    def __init__(self, arg=None):
        if arg:
            raise UserError(f"judge 'event_retrieval' takes no argument (got {arg!r}); valid: 'event_retrieval'")
        self.name = "event_retrieval"
        self._indexes = {}

    def _index(self, events):
        records = _release_records(events)
        if records not in self._indexes:
            if len(self._indexes) >= 8:
                self._indexes.clear()
            self._indexes[records] = EventIndex(records)
        return self._indexes[records]

    def score(self, predictions, references, events=None):
        """Per prediction, its score for the event `references[i]["event_id"]` among `events`."""
        if len(predictions) != len(references):
            raise UserError(f"judge 'event_retrieval': {len(predictions)} predictions but "
                            f"{len(references)} references")
        index = self._index(events)
        targets = _target_rows(references, index)
        memo = {}
        scores = []
        for prediction, target in zip(predictions, targets):
            text = prediction or ""
            if text not in memo:
                memo[text] = index.match(text)
            cosines, shared = memo[text]
            scores.append(ratio_test_score(cosines, target) if shared[target] >= MIN_SHARED_WORDS else 0.0)
        return scores
