"""Area under the ROC curve of a membership score, and privleak relative to the goal model."""
import numpy as np

from pebench.metrics import METRICS, Cell, as_groups, declare, example, per_block
from pebench.metrics._checks import as_float_array
from pebench.metrics.mia_scores import mia_loss, mia_min_k, mia_min_k_plus_plus, mia_zlib

MEMBERS, NON_MEMBERS = ("forget_train",), ("forget_unseen", "holdout")


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
    members = as_float_array("mia_auc (members)", member_scores)
    others = as_float_array("mia_auc (non-members)", nonmember_scores)
    return float(auc(members, others))


def auc(members, others):
    """Mann-Whitney AUC over the last axis (vectorised over leading resample axes)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([members, others], axis=-1), axis=-1)
    n_members, n_others = members.shape[-1], others.shape[-1]
    u = ranks[..., n_members:].sum(axis=-1) - n_others * (n_others + 1) / 2
    return u / (n_members * n_others)


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


SCORES = {  # membership score name -> per-sample scores of rows (higher = less likely a member)
    "loss": lambda rows, view: mia_loss([r["logprobs"] for r in rows]),
    "zlib": lambda rows, view: mia_zlib([r["logprobs"] for r in rows], view.answers(rows)),
    "min_k": lambda rows, view: mia_min_k([r["logprobs"] for r in rows]),
    "min_k_plus_plus": lambda rows, view: mia_min_k_plus_plus([r["logprobs"] for r in rows],
                                                              [r["mean"] for r in rows], [r["std"] for r in rows]),
}


def membership(score):
    """A `Cell.measure`: `score` of forget_train rows (members) and of forget_unseen + holdout rows."""

    def measure(view):
        def scored(splits):
            rows = [r for s in splits for r in view.rows(s, "own", need=("logprobs", "mean", "std")) if r["logprobs"]]
            return SCORES[score](rows, view) if rows else []

        return as_groups(scored(MEMBERS), scored(NON_MEMBERS))

    return measure


def privleak_against_goal(score):
    """A `Cell.measure` for privleak: the membership groups plus the goal's AUC as a one-value group
    (resampling it changes nothing); absent unless the goal's AUC is known and below 1."""

    def measure(view):
        goal_auc = view.goal(f"mia_auc_{score}")
        if goal_auc is None or goal_auc >= 1.0:
            return None
        return [*membership(score)(view), as_groups([goal_auc])[0]]

    return measure


def privleak_of_groups(members, others, goal_auc):
    """`privleak` of the AUC of each resample against the goal's AUC (vectorised)."""
    g = goal_auc[..., 0]
    return ((1.0 - auc(members, others)) - (1.0 - g)) / (1.0 - g) * 100.0


_MIA = dict(splits=MEMBERS + NON_MEMBERS, needs=("logprobs", "stats"), direction="goal")
declare(*per_block(*[
    cell for score in SCORES for cell in (
        Cell(f"mia_auc_{score}", f"MIA AUC ({score})", metric="mia_auc", measure=membership(score),
             statistic=auc, **_MIA),
        Cell(f"privleak_{score}", f"Privleak ({score}, MUSE)", metric="privleak", measure=privleak_against_goal(score),
             statistic=privleak_of_groups, reference="goal", **_MIA),
    )
]))
