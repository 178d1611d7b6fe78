"""SimNPO: reference-free NPO with length-normalised likelihood and a margin, plus retain NLL."""
import torch.nn.functional as F

from baselines import METHODS
from baselines._common import retain_loss, sequence_nll
from pebench.methods import requires


@METHODS.register("simnpo")
@requires("retain")
def loss(model, forget, retain, ref=None, beta=4.5, margin=0.0, forget_weight=0.125, retain_weight=1.0):
    """Simple NPO: NPO without a reference model, on the per-token mean log-likelihood.

    Paper: Fan et al., "Simplicity Prevails: Rethinking Negative Preference Optimization for LLM
    Unlearning" (2024). Equation: L = w_f * -(2/beta) E_f[log sigmoid(-(beta/|y|) log pi(y|x) - gamma)]
    + lambda * NLL(D_r), with gamma = `margin`, w_f = `forget_weight`, lambda = `retain_weight`.
    Defaults follow the TOFU setting of the reference code (also open-unlearning's): beta 4.5, margin 0,
    forget-term weight 0.125, retain weight 1. (The 0.125 there is the forget-term weight, not the margin
    gamma of the paper's equation.)
    """
    mean_nll = sequence_nll(model, forget, mean=True)
    forget_term = -F.logsigmoid(beta * mean_nll - margin).mean() * 2 / beta
    return forget_weight * forget_term + retain_weight * retain_loss(model, retain, kind="nll")
