"""KL: gradient ascent on forget plus KL to the fine-tuned model on retain."""
from baselines import METHODS
from baselines._common import need_ref, nll, retain_loss
from pebench.methods import requires


@METHODS.register("kl")
@requires("retain", "ref")
def loss(model, forget, retain, ref=None, retain_weight=1.0):
    """KL Minimisation: ascend the forget NLL while keeping retain predictions close to the original model.

    Paper: the KL baseline of TOFU (Maini et al., 2024) and PEBench. Equation:
    L = -NLL(D_f) + lambda * mean_t KL(p_ref(. | x, y_<t) || p_theta(. | x, y_<t)) over retain answer
    tokens, lambda = `retain_weight`; p_ref is the frozen fine-tuned model.
    """
    need_ref(ref, "kl")
    return -nll(model, forget) + retain_weight * retain_loss(model, retain, ref, kind="kl")
