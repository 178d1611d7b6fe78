"""Weight-only quantization: is the forgotten knowledge still there, below the precision unlearning moved?

Zhang et al. (ICLR 2025, arXiv 2410.16454) found that 4-bit quantization restores on average 83 % of
"forgotten" knowledge for utility-constrained methods: small weight updates vanish under rounding and the
fine-tuned model's weights reappear. Every linear layer's weights are quantized (int8, or int4 with
optimum-quanto's group-wise scales), activations stay float; then the model answers the forget splits.
The goal model under the same quantization is the control. Needs `optimum-quanto` (`pip install
pebench[probes]`); without it the probe is recorded as not run, with that reason.
"""
from pebench.probes import NotRun, Probe, register


def quantized(vlm, bits):
    """`vlm` with its model's linear weights quantized to `bits` in place (optimum-quanto, CPU or GPU)."""
    try:
        from optimum.quanto import freeze, qint4, qint8, quantize
    except ImportError as err:
        raise NotRun(f"optimum-quanto is not installed ({err.name or err}): pip install pebench[probes]") from None
    try:
        quantize(vlm.model, weights={8: qint8, 4: qint4}[bits])
        freeze(vlm.model)
    except (RuntimeError, NotImplementedError, ValueError) as err:
        raise NotRun(f"int{bits} weight quantization failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}") \
            from None
    return vlm


def attack(ctx, settings):
    vlm = quantized(ctx.load(), settings["bits"])
    try:
        return ctx.answer(vlm)
    except (RuntimeError, NotImplementedError) as err:  # a kernel missing for this device or dtype
        raise NotRun(f"int{settings['bits']} kernel failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}") \
            from None


for bits in (8, 4):
    register(Probe(
        name=f"quantize_int{bits}",
        summary=f"Quantize every linear layer's weights to int{bits} (activations in float) and ask again: "
                "rounding can undo the small weight changes that hid the answer.",
        attack=attack, settings={"bits": bits, "library": "optimum-quanto"}))
