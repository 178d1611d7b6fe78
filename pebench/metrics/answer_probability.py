"""Answer probability (TOFU)."""
import math

from pebench.metrics import METRICS, example
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
