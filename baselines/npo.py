"""NPO: negative preference optimisation on forget, plus retain NLL."""
import torch.nn.functional as F

from baselines import METHODS
from baselines._common import need_ref, retain_loss, sequence_nll, sequence_nll_ref
from pebench.methods import requires


@METHODS.register("npo")
@requires("retain", "ref")
def loss(model, forget, retain, ref=None, beta=0.1, retain_weight=1.0):
    """Negative Preference Optimisation: a bounded, reference-anchored form of gradient ascent.

    Paper: Zhang et al., "Negative Preference Optimization: From Catastrophic Collapse to Effective
    Unlearning" (COLM 2024). Equation, log-likelihoods summed over answer tokens:
    L = -(2/beta) E_f[log sigmoid(-beta (log pi(y|x) - log pi_ref(y|x)))] + lambda * NLL(D_r),
    lambda = `retain_weight` (the NPO+RT variant).
    """
    need_ref(ref, "npo")
    log_ratio = sequence_nll_ref(ref, forget) - sequence_nll(model, forget)
    forget_term = -F.logsigmoid(-beta * log_ratio).mean() * 2 / beta
    return forget_term + retain_weight * retain_loss(model, retain, kind="nll")
