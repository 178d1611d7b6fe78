"""SimNPO: reference-free NPO with length-normalised likelihood and a margin, plus retain NLL."""
import torch.nn.functional as F

from baselines import METHODS
from baselines._common import retain_loss, sequence_nll
from pebench.methods import requires


@METHODS.register("simnpo")
@requires("retain")
def loss(model, forget, retain, ref=None, beta=4.5, gamma=0.125, retain_weight=1.0):
    """Simple NPO: NPO without a reference model, on the per-token mean log-likelihood.

    Paper: Fan et al., "Simplicity Prevails: Rethinking Negative Preference Optimization for LLM
    Unlearning" (2024). Equation: L = -(2/beta) E_f[log sigmoid(-(beta/|y|) log pi(y|x) - gamma)]
    + lambda * NLL(D_r), lambda = `retain_weight`; defaults beta 4.5, gamma 0.125 as in the paper's TOFU
    setting.
    """
    mean_nll = sequence_nll(model, forget, mean=True)
    forget_term = -F.logsigmoid(beta * mean_nll - gamma).mean() * 2 / beta
    return forget_term + retain_weight * retain_loss(model, retain, kind="nll")
