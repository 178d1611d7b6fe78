"""Forget quality (TOFU): KS test of the unlearned model's forget-set truth ratios against the goal's."""
from pebench.metrics import METRICS, example
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
