"""GD: gradient ascent on forget plus NLL on retain."""
from baselines import METHODS
from baselines._common import nll, retain_loss
from pebench.methods import requires


@METHODS.register("gd")
@requires("retain")
def loss(model, forget, retain, ref=None, retain_weight=1.0):
    """Gradient Difference: ascend the forget NLL while descending the retain NLL.

    Paper: Liu et al., "Continual Learning and Private Unlearning" (CoLLAs 2022); the GD baseline of TOFU
    and PEBench. Equation: L = -NLL(D_f) + lambda * NLL(D_r), lambda = `retain_weight`.
    """
    return -nll(model, forget) + retain_weight * retain_loss(model, retain, kind="nll")
