"""Membership-inference scores from answer token log-probabilities (higher = less likely a member)."""
import math
import zlib

import numpy as np

from pebench.metrics import METRICS, example
from pebench.metrics._checks import as_float_array, same_length

MIN_K = 0.4


@METRICS.register()
@example([[-1.0, -3.0], [0.0]], expected=[2.0, 0.0])
def mia_loss(logprobs):
    """Per sample, the LOSS attack score L = -mean log p (Yeom et al. 2018): members have low loss."""
    return [0.0 - float(as_float_array("mia_loss", lp).mean()) for lp in logprobs]


@METRICS.register()
@example([[-1.0, -3.0]], ["aaaa"], expected=[2.0 / len(zlib.compress(b"aaaa"))])
def mia_zlib(logprobs, texts):
    """Per sample, L / len(zlib(text)) (Carlini et al. 2021): the loss relative to the text's entropy.

    Text that is easy to compress is likely for any model; dividing by its zlib size (bytes) calibrates
    for that. `texts` are the scored answers.
    """
    same_length("mia_zlib", logprobs, texts)
    return [-float(as_float_array("mia_zlib", lp).mean()) / len(zlib.compress(t.encode("utf-8")))
            for lp, t in zip(logprobs, texts)]


@METRICS.register()
@example([[-1.0, -2.0, -3.0, -4.0, -5.0]], expected=[4.5])
def mia_min_k(logprobs, k=MIN_K):
    """Per sample, Min-K% Prob (Shi et al. 2024): -mean of the lowest max(1, floor(k*T)) token log-probs.

    Non-members contain a few very unlikely tokens; members rarely do. k = 0.4 as in open-unlearning;
    floor(k*T), at least one token, as in the paper's code and open-unlearning. With T = 5 and k = 0.4
    the two lowest tokens count.
    """
    return [_lowest_mean("mia_min_k", as_float_array("mia_min_k", lp), k) for lp in logprobs]


@METRICS.register()
@example([[-1.0, -2.0]], [[-1.0, -1.0]], [[1.0, 0.5]], expected=[2.0])
def mia_min_k_plus_plus(logprobs, means, stds, k=MIN_K):
    """Per sample, Min-K%++ (Zhang et al. 2025): Min-K% on z = (log p - mu) / sigma per token.

    mu and sigma are the mean and standard deviation of log p(v) over the vocabulary under the model's
    own next-token distribution (`VLM.token_logprobs(..., with_stats=True)`), so a token is judged against
    what the model expected at that position. A sigma of 0 (a one-hot distribution) is floored at 1e-6,
    i.e. the variance at 1e-12 (open-unlearning floors the variance itself, at a larger value; the floor
    only matters for near one-hot positions). Example: log p = [-1, -2], mu = [-1, -1], sigma = [1, 0.5]
    give z = [0, -2]; the lowest max(1, floor(0.4 * 2)) = 1 value is -2, so the score is 2.
    """
    same_length("mia_min_k_plus_plus", logprobs, means, stds)
    out = []
    for lp, mu, sigma in zip(logprobs, means, stds):
        lp, mu = as_float_array("mia_min_k_plus_plus", lp), as_float_array("mia_min_k_plus_plus", mu)
        sigma = np.maximum(as_float_array("mia_min_k_plus_plus", sigma), 1e-6)
        out.append(_lowest_mean("mia_min_k_plus_plus", (lp - mu) / sigma, k))
    return out


def _lowest_mean(name, values, k):
    if not 0 < k <= 1:
        raise ValueError(f"{name}: k must be in (0, 1], got {k}")
    count = max(1, math.floor(k * len(values) + 1e-9))
    return -float(np.sort(values)[:count].mean())
