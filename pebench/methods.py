"""The unlearning method protocol: what a method is, what it needs, and its hyper-parameters.

A method is a loss `loss(model, forget, retain, ref=None, **hparams) -> Tensor` registered by name in
`METHODS` (in-tree methods live in the `baselines` package, found by the registry; out-of-tree ones are
named "module:attr"). Everything the trainer and the collator need to know is asked of the method:

- `@requires("retain", "ref", "refusal")`: retain rows, the frozen reference model, refusal answers
  (a callable `needs(hparams) -> set` when the needs depend on the hyper-parameters);
- `@batch_fields(name=make)`: extra per-batch values, `make(vlm, forget_rows)`, that the collator puts
  in `forget["fields"][name]` ("refusal" is built in: the forget rows encoded with refusal answers);
- an optional `prepare(model, ref, forget_rows, seed, **hparams) -> rows` in the method's module, run
  once before training (freeze parameters, resample rows);
- its hyper-parameters: the keyword defaults of `loss` and `prepare` (the one source of defaults);
  a YAML beside the module (`configs/<name>.yaml`) sets only the shared training settings.
"""
import inspect
import sys
from pathlib import Path

from pebench.errors import UserError
from pebench.registry import Registry

METHODS = Registry("method", "baselines")
NEEDS = ("retain", "ref", "refusal")
FIELDS = "fields"  # the forget batch's key holding the method's extra fields (never a model input)


def requires(*needs):
    """Declare what a method needs besides the forget batch (`NEEDS`), or `needs(hparams) -> set`."""

    def mark(fn):
        fn.needs = needs[0] if len(needs) == 1 and callable(needs[0]) else frozenset(needs)
        return fn

    return mark


def batch_fields(**makers):
    """Declare extra batch values: `make(vlm, forget_rows)` -> a tensor or an encoded batch."""

    def mark(fn):
        fn.fields = dict(makers)
        return fn

    return mark


def needs_of(loss, hparams):
    """The set of inputs `loss` needs under `hparams` (see `requires`)."""
    needs = getattr(loss, "needs", frozenset())
    needs = set(needs(hparams) if callable(needs) else needs)
    unknown = needs - set(NEEDS)
    if unknown:
        raise UserError(f"method needs {sorted(unknown)}; a method may need: {', '.join(NEEDS)}")
    return needs


def refusal_field(vlm, rows):
    """The forget rows encoded with the refusal answer of each row's task (PO, DPO, SIU train toward it)."""
    from pebench.tiny import refusal_answer

    return vlm.encode(rows, answers=[refusal_answer(r) for r in rows])


def fields_of(loss, hparams):
    """{name: make(vlm, rows)}: the extra fields the collator adds to each forget batch for `loss`."""
    fields = {"refusal": refusal_field} if "refusal" in needs_of(loss, hparams) else {}
    return {**fields, **getattr(loss, "fields", {})}


def batch_field(batch, name):
    """A field of a forget batch (UserError naming the method's missing declaration)."""
    value = (batch.get(FIELDS) or {}).get(name)
    if value is None:
        raise UserError(f"the forget batch has no {name!r}: declare it with @requires or @batch_fields")
    return value


def model_inputs(batch):
    """The batch without its extra fields, ready for `model(**...)`."""
    return {k: v for k, v in batch.items() if k != FIELDS}


def prepare_of(loss):
    """The optional `prepare(model, ref, forget_rows, seed, **hparams) -> forget_rows` beside a method."""
    return getattr(sys.modules[loss.__module__], "prepare", None)


def _defaults(fn, skip):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if k not in skip and p.default is not inspect.Parameter.empty}


def hparams_of(loss):
    """A method's hyper-parameters and their defaults: the keyword defaults of its loss and prepare."""
    hp = _defaults(loss, ("model", "forget", "retain", "ref"))
    prepare = prepare_of(loss)
    if prepare is not None:
        hp.update(_defaults(prepare, ("model", "ref", "forget_rows", "seed")))
    return hp


def split_hparams(loss, hparams):
    """(loss kwargs, prepare kwargs) from one flat hparams dict; a key may belong to both."""
    prepare = prepare_of(loss)
    own = inspect.signature(loss).parameters
    prep = inspect.signature(prepare).parameters if prepare is not None else {}
    return {k: v for k, v in hparams.items() if k in own}, {k: v for k, v in hparams.items() if k in prep}


def config_file(loss, name):
    """The method's YAML of training settings: `configs/<name>.yaml` beside the module that defines it."""
    return Path(sys.modules[loss.__module__].__file__).parent / "configs" / f"{name}.yaml"


def summary(loss):
    """First docstring line: what `pebench unlearn --list` prints."""
    return (loss.__doc__ or "").strip().splitlines()[0] if loss.__doc__ else ""
