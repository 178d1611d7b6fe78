"""ROUGE-L recall and F-measure with the `rouge_score` package (stemmed, as in TOFU)."""
from functools import lru_cache

from pebench.metrics import METRICS, Cell, as_groups, declare, example, per_block
from pebench.metrics._checks import same_length


@lru_cache(maxsize=1 << 16)
def _stem(word):
    """Porter stem of one word, memoised: stemming dominates ROUGE's cost and answers repeat words."""
    return _porter().stem(word)


@lru_cache(maxsize=1)
def _porter():
    from nltk.stem import porter

    return porter.PorterStemmer()


class _MemoStemmer:
    """The `stemmer` object `rouge_score.tokenize.tokenize` expects, with a memo in front of Porter."""

    stem = staticmethod(_stem)


def tokenize(text):
    """rouge_score's tokens: lower-cased alphanumeric words, Porter-stemmed when longer than 3 letters
    (`DefaultTokenizer(use_stemmer=True)`, memoised). The one tokenizer of ROUGE-L and both offline judges."""
    from rouge_score.tokenize import tokenize as rouge_tokenize

    return rouge_tokenize(text or "", _MemoStemmer)


class _Tokenizer:
    """`rouge_score`'s tokenizer interface around `tokenize`."""

    tokenize = staticmethod(tokenize)


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Tokenizer())


def _scores(predictions, references):
    same_length("rouge_l", predictions, references)
    return [_scorer().score(ref or "", pred or "")["rougeL"] for pred, ref in zip(predictions, references)]


@METRICS.register()
@example(["the cat sat", "a dog", ""], ["the cat sat on the mat", "a dog", "x"], expected=[0.5, 1.0, 0.0])
def rouge_l_recall(predictions, references):
    """Per sample, LCS(reference, prediction) / |reference| in tokens (Lin 2004; TOFU, Maini et al. 2024).

    Tokens are lower-cased alphanumeric words, Porter-stemmed (`rouge_score` defaults). Recall rewards
    reproducing the reference and ignores extra words, which is why TOFU uses it for memorisation.
    Raw direction: higher = closer to the reference.
    """
    return [s.recall for s in _scores(predictions, references)]


@METRICS.register()
@example(["the cat sat", "a dog"], ["the cat sat on the mat", "a dog"], expected=[2 / 3, 1.0])
def rouge_l_f(predictions, references):
    """Per sample, the ROUGE-L F-measure 2PR / (P + R) of LCS precision P and recall R (Lin 2004)."""
    return [s.fmeasure for s in _scores(predictions, references)]


def recall_on(split, task="own"):
    """A `Cell.measure`: ROUGE-L recall of the generated answers on one split against the references."""

    def measure(view):
        rows = view.rows(split, task, need=("prediction",))
        return as_groups(rouge_l_recall([r["prediction"] for r in rows], view.answers(rows)))

    return measure


declare(
    # The person target's scope: are the forgotten people's scenes still described? (PEBench: ROUGE-L.)
    Cell("scope", "Scope", metric="rouge_l_recall", splits=("scope",), measure=recall_on("scope", "other"),
         task="other", block="person", column=4, board="keep", joint=True),
    *per_block(
        Cell("tofu_rougeL_forget", "ROUGE-L recall, forget (TOFU)", metric="rouge_l_recall",
             splits=("forget_train",), measure=recall_on("forget_train"), direction="lower"),
        Cell("tofu_rougeL_retain", "ROUGE-L recall, retain (TOFU)", metric="rouge_l_recall",
             splits=("retain_test",), measure=recall_on("retain_test")),
    ),
)
