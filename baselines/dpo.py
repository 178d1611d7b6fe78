"""DPO: prefer the refusal over the true answer on forget, plus retain NLL."""
import torch.nn.functional as F

from baselines import METHODS
from baselines._common import need_ref, refusal_batch, retain_loss, sequence_nll, sequence_nll_ref
from pebench.methods import requires


@METHODS.register("dpo")
@requires("retain", "ref", "refusal")
def loss(model, forget, retain, ref=None, beta=0.1, retain_weight=1.0):
    """Direct Preference Optimisation with the refusal as the preferred answer and the truth as rejected.

    Paper: Rafailov et al., "Direct Preference Optimization" (NeurIPS 2023), used for unlearning in TOFU
    and PEBench. Equation, with log-likelihoods summed over answer tokens and pi_ref the fine-tuned model:
    L = -(2/beta) log sigmoid(beta [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])
        + lambda * NLL(D_r),
    y_w = refusal, y_l = true forget answer, lambda = `retain_weight`. The 2/beta scale follows
    open-unlearning so that beta does not also set the step size.
    """
    need_ref(ref, "dpo")
    win = refusal_batch(forget)
    win_ratio = sequence_nll_ref(ref, win) - sequence_nll(model, win)
    lose_ratio = sequence_nll_ref(ref, forget) - sequence_nll(model, forget)
    preference = -F.logsigmoid(beta * (win_ratio - lose_ratio)).mean() * 2 / beta
    return preference + retain_weight * retain_loss(model, retain, kind="nll")
