"""RMU: push a middle layer's activations on forget answers toward a fixed random direction."""
import torch

from baselines import METHODS
from baselines._common import forward, need_ref
from pebench.adapter import decoder_layers
from pebench.methods import requires


def chosen_layer(model, layer):
    count = model.config.get_text_config().num_hidden_layers
    return (count - 1) // 2 if layer is None else layer % count


def prepare(model, ref, forget_rows, seed, layer=None, update_layers=3):
    """Train only the MLPs of the `update_layers` layers ending at `layer`, as RMU does.

    Under LoRA (parameters named `lora_`) the trainable set is left to peft.
    """
    if any("lora_" in name for name, _ in model.named_parameters()):
        return forget_rows
    end = chosen_layer(model, layer)
    layers = decoder_layers(model)
    model.requires_grad_(False)
    for index in range(max(0, end - update_layers + 1), end + 1):
        getattr(layers[index], "mlp", layers[index]).requires_grad_(True)
    return forget_rows


def random_direction(size, seed, device):
    """The fixed control vector u: uniform [0, 1) entries, unit norm, drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(size, generator=generator)
    return (u / u.norm()).to(device)


def answer_states(model, batch, layer):
    """Hidden states after decoder layer `layer` at the positions that predict answer tokens [N, H]."""
    states = forward(model, batch, output_hidden_states=True).hidden_states[layer + 1][:, :-1]
    return states[batch["labels"][:, 1:] != -100].float()


@METHODS.register("rmu")
@requires("retain", "ref")
def loss(model, forget, retain, ref=None, layer=None, steering=8.0, retain_weight=1.0, direction_seed=0):
    """Representation Misdirection for Unlearning on one decoder layer.

    Paper: Li et al., "The WMDP Benchmark: Measuring and Reducing Malicious Use with Unlearning"
    (ICML 2024). Equation, h^l the output of decoder layer l (`layer`, default the middle one) at the
    positions predicting answer tokens, u a fixed random unit vector, c = `steering`:
    L = mean ||h^l_theta(x_f) - c u||^2 + alpha * mean ||h^l_theta(x_r) - h^l_ref(x_r)||^2,
    alpha = `retain_weight`; squared norms are averaged over hidden units. `prepare` restricts training
    to the MLPs of the three layers ending at `layer`. Defaults: c = 8 for the tiny CPU models, whose
    small hidden sizes need a larger coefficient (WMDP on zephyr-7b: c = 6.5, alpha = 1200, layer 7 of
    32); `layer` None = the middle decoder layer.
    """
    need_ref(ref, "rmu")
    index = chosen_layer(model, layer)
    forget_states = answer_states(model, forget, index)
    control = steering * random_direction(forget_states.shape[-1], direction_seed, forget_states.device)
    forget_term = ((forget_states - control) ** 2).mean()
    with torch.no_grad():
        ref_states = answer_states(ref, retain, index)
    retain_term = ((answer_states(model, retain, index) - ref_states) ** 2).mean()
    return forget_term + retain_weight * retain_term
