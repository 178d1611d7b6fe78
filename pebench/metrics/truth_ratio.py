"""Truth ratio (TOFU): does the model prefer a paraphrase of the truth over plausible wrong answers?"""
import math

from pebench.metrics import METRICS, Cell, as_groups, declare, example, per_block
from pebench.metrics._checks import as_float_array, same_length

MAX_LOG_RATIO = 50.0


@METRICS.register()
@example([1.0, 2.0, 1.0], [[1.0, 1.0], [1.0, 3.0], [2.0, 4.0]], expected=[1.0, 1.0, math.exp(-2.0)])
def truth_ratio(paraphrase_nll, perturbed_nll):
    """Per item, R = exp(-mean_j L(wrong_j)) / exp(-L(paraphrase)) = exp(L(paraphrase) - mean_j L(wrong_j)).

    TOFU (Maini et al. 2024, eq. 1), computed per item (never over the whole perturbed matrix), with L the
    length-normalised NLL of an answer. R < 1: the truth is preferred; R = 1: no preference; R > 1: the
    wrong answers are preferred. log R is clipped to +-50 (R in [2e-22, 5e21]): past that the preference
    is total either way, and result files (JSON) hold no infinities.

    Args:
        paraphrase_nll: per item, L of the paraphrased correct answer.
        perturbed_nll: per item, the L of each perturbed (wrong) answer.
    """
    same_length("truth_ratio", paraphrase_nll, perturbed_nll)
    return [math.exp(min(MAX_LOG_RATIO, max(-MAX_LOG_RATIO, float(p) - float(as_float_array("truth_ratio", w).mean()))))
            for p, w in zip(paraphrase_nll, perturbed_nll)]


@METRICS.register()
@example([1.0, 0.5, 2.0, 4.0], expected=[1.0, 0.5, 0.5, 0.25])
def truth_ratio_forget(ratios):
    """Per item, min(R, 1/R): 1 when the model cannot tell truth from the wrong answers (forgotten).

    TOFU's forget-set statistic; higher = more forgotten, and a model preferring the *wrong* answers is
    not rewarded (it still knows which one is true).
    """
    values = as_float_array("truth_ratio_forget", ratios)
    return [min(r, 1.0 / r) if r > 0 else 0.0 for r in values.tolist()]


@METRICS.register()
@example([0.25, 1.0, 3.0], expected=[0.75, 0.0, 0.0])
def truth_ratio_retain(ratios):
    """Per item, max(0, 1 - R): TOFU's retain-set statistic; higher = the truth is clearly preferred."""
    return [max(0.0, 1.0 - r) for r in as_float_array("truth_ratio_retain", ratios).tolist()]


def item_ratios(records):
    """{id: R} for the records that hold truth-ratio NLLs (what a goal model lends to forget quality)."""
    rows = [r for r in records if r.get("paraphrase_nll") is not None and r.get("perturbed_nll")]
    return dict(zip([r["id"] for r in rows], truth_ratio([r["paraphrase_nll"] for r in rows],
                                                         [r["perturbed_nll"] for r in rows])))


def folded_on(split, fold):
    """A `Cell.measure`: per item `fold(R)` on one split (TOFU's forget or retain statistic)."""

    def measure(view):
        ratios = list(item_ratios(view.rows(split, "own", need=("paraphrase_nll", "perturbed_nll"))).values())
        return as_groups(fold(ratios) if ratios else [])

    return measure


declare(*per_block(
    Cell("tofu_truth_ratio_forget", "Truth ratio, forget (TOFU)", metric="truth_ratio_forget",
         splits=("forget_train",), needs=("truth_ratio",), measure=folded_on("forget_train", truth_ratio_forget)),
    Cell("tofu_truth_ratio_retain", "Truth ratio, retain (TOFU)", metric="truth_ratio_retain",
         splits=("retain_test",), needs=("truth_ratio",), measure=folded_on("retain_test", truth_ratio_retain)),
))
