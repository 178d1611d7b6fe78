"""Answer probability (TOFU)."""
import math

from pebench.metrics import METRICS, Cell, as_groups, declare, example, per_block
from pebench.metrics._checks import as_float_array


@METRICS.register()
@example([[0.0, 0.0], [math.log(0.5), math.log(0.5)], [math.log(0.25), 0.0]], expected=[1.0, 0.5, 0.5])
def answer_probability(logprobs):
    """Per sample, P~ = exp(-L) with L the mean negative log-likelihood of the answer tokens.

    TOFU (Maini et al. 2024) normalises by length so long answers are not penalised: P~ is the geometric
    mean of the per-token probabilities. Raw direction: higher = the model still finds the answer likely.

    Args:
        logprobs: per sample, the answer tokens' log-probabilities (teacher forcing).
    """
    return [math.exp(-mean_nll(lp)) for lp in logprobs]


def mean_nll(logprobs):
    """L = -mean(log p) over one answer's tokens (UserError if there are none)."""
    return -float(as_float_array("mean_nll", logprobs).mean())


def probability_on(split):
    """A `Cell.measure`: P~ of the reference answers of the block's task on one split."""

    def measure(view):
        rows = [r for r in view.rows(split, "own", need=("logprobs",)) if r["logprobs"]]
        return as_groups(answer_probability([r["logprobs"] for r in rows]))

    return measure


declare(*per_block(
    Cell("tofu_answer_prob_forget", "Answer probability, forget (TOFU)", metric="answer_probability",
         splits=("forget_train",), needs=("logprobs",), measure=probability_on("forget_train"), direction="lower"),
    Cell("tofu_answer_prob_retain", "Answer probability, retain (TOFU)", metric="answer_probability",
         splits=("retain_test",), needs=("logprobs",), measure=probability_on("retain_test")),
))
