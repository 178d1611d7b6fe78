"""Area under the ROC curve of a membership score, and privleak relative to the goal model."""
import numpy as np

from pebench.metrics import METRICS, example
from pebench.metrics._checks import as_float_array


@METRICS.register()
@example([1.0, 2.0], [3.0, 4.0], expected=1.0)
def mia_auc(member_scores, nonmember_scores):
    """AUC of separating members (label 0) from non-members (label 1) by a score (higher = non-member).

    AUC = P(score of a random non-member > score of a random member) + 0.5 P(tie) (the Mann-Whitney U
    statistic / (n_member * n_nonmember), with average ranks for ties). 0.5 = indistinguishable (what a
    model never trained on the members gives); 1.0 = members perfectly exposed.

    Raises:
        UserError: either group is empty or not finite.
    """
    from scipy.stats import rankdata

    members = as_float_array("mia_auc (members)", member_scores)
    others = as_float_array("mia_auc (non-members)", nonmember_scores)
    ranks = rankdata(np.concatenate([members, others]))
    u = ranks[len(members):].sum() - len(others) * (len(others) + 1) / 2
    return float(u / (len(members) * len(others)))


@METRICS.register()
@example(1.0, 0.5, expected=-100.0)
def privleak(auc, goal_auc):
    """PrivLeak (MUSE, Shi et al. 2024): ((1 - AUC) - (1 - AUC_goal)) / (1 - AUC_goal) x 100.

    About 0 is ideal (as exposed as a model never trained on the forget set); negative = members still
    exposed (under-unlearning), positive = over-unlearning. Returns None when AUC_goal = 1 (undefined).
    """
    if 1.0 - goal_auc == 0.0:
        return None
    return float(((1.0 - auc) - (1.0 - goal_auc)) / (1.0 - goal_auc) * 100.0)
