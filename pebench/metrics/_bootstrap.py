"""Seeded percentile bootstrap for 95 % confidence intervals (not a metric: not registered)."""
import zlib

import numpy as np

RESAMPLES = 1000


def bootstrap_ci(statistic, samples, resamples=RESAMPLES, seed=0, name=""):
    """95 % percentile interval of `statistic` over resamples of `samples` (Efron & Tibshirani 1993).

    Args:
        statistic: a function of numpy arrays, one per group, returning a float (or None).
        samples: a list of groups; each group is resampled with replacement on its own (members and
            non-members of an AUC separately, so each resample keeps both), rows of a group together.
        resamples: number of bootstrap resamples (0 -> None).
        seed: the evaluation seed; the stream also depends on `name`, so adding a metric leaves the
            other intervals unchanged.
    Returns:
        [low, high] (the 2.5th and 97.5th percentiles, numpy's linear interpolation), or None when a
        group is empty, `resamples` is 0 or the statistic is undefined on some resample.
    """
    groups = [np.asarray(group, dtype=np.float64) for group in samples]
    if resamples <= 0 or any(len(group) == 0 for group in groups):
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    picks = [rng.integers(0, len(group), size=(resamples, len(group))) for group in groups]
    values = []
    for b in range(resamples):
        value = statistic(*[group[pick[b]] for group, pick in zip(groups, picks)])
        if value is None:
            return None
        values.append(value)
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [2.5, 97.5])
    return [float(low), float(high)]


def mean_ci(values, scale=1.0, resamples=RESAMPLES, seed=0, name=""):
    """Interval of `scale * mean(values)`, the same resamples as `bootstrap_ci` but vectorised."""
    values = np.asarray(values, dtype=np.float64)
    if resamples <= 0 or len(values) == 0:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    means = scale * values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]
