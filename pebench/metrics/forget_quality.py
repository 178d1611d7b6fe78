"""Forget quality (TOFU): KS test of the unlearned model's forget-set truth ratios against the goal's."""
import numpy as np

from pebench.metrics import METRICS, Cell, as_groups, declare, example, per_block
from pebench.metrics._checks import as_float_array


@METRICS.register()
@example([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], expected={"p_value": 1.0, "statistic": 0.0})
def forget_quality(ratios, goal_ratios):
    """Two-sample Kolmogorov-Smirnov test between per-item truth ratios R of a model and the goal model.

    TOFU (Maini et al. 2024): the p-value is high when the two distributions cannot be told apart, i.e.
    the model looks like one never trained on the forget set. The p-value shrinks as the number of items
    grows, so the statistic D = max |F_model - F_goal| is reported as well (lower D = closer to the goal).
    Exact p-values (`scipy.stats.ks_2samp`, method "auto"); ties are handled by the empirical CDFs.

    Returns:
        {"p_value": float in [0, 1], "statistic": D in [0, 1]}.
    Raises:
        UserError: either sample is empty or not finite.
    """
    from scipy.stats import ks_2samp

    a, b = as_float_array("forget_quality", ratios), as_float_array("forget_quality (goal)", goal_ratios)
    test = ks_2samp(a, b)
    return {"p_value": float(test.pvalue), "statistic": float(test.statistic)}


def _paired_with_goal(view):
    """Forget-train truth ratios of this model and of the goal model, on the items both have."""
    from pebench.metrics.truth_ratio import item_ratios

    goal = ((view.reference_info.get("goal") or {}).get("truth_ratio")) or {}
    mine = item_ratios(view.rows("forget_train", "own"))
    ids = sorted(set(mine) & set(goal))
    return as_groups([mine[i] for i in ids], [goal[i] for i in ids])


def _each(key):
    def statistic(mine, goal):
        return np.array([forget_quality(a, b)[key] for a, b in zip(mine, goal)])

    return statistic


# A KS test has no bootstrap interval: resampling a p-value against fixed goal values is not meaningful.
_KS = dict(metric="forget_quality", splits=("forget_train",), needs=("truth_ratio",), measure=_paired_with_goal,
           interval=False, reference="goal")
declare(*per_block(
    Cell("forget_quality", "Forget quality (KS p-value, TOFU)", statistic=_each("p_value"), **_KS),
    Cell("forget_quality_D", "Forget quality KS statistic D", statistic=_each("statistic"), direction="lower",
         **_KS),
))
