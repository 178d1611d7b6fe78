"""One adapter over any `AutoModelForImageTextToText` checkpoint with a chat template.

Three calls cover what pebench needs from a model (as in lm-evaluation-harness): `encode` (a training
batch with the loss masked to the answer), `token_logprobs` (per-token answer log-likelihoods, for
truth ratio and membership inference) and `generate` (batched greedy answers).

Prompts are always built with the processor's own chat template: a user turn holding the image (when
the row has one) and the question, then an assistant turn holding the answer. The "answer tokens" are
everything the assistant turn adds after the generation prompt: the answer and the template's
end-of-turn marker, so fine-tuning also teaches the model to stop.

Rows with `image=None` are text-only (profile questions): their user turn has no image. Batches may mix
both kinds: the processor receives the images of the rows that have one, in order (LLaVA-style
processors take a flat list); families whose processors want one list of images per row are marked in
`QUIRKS`. Answer tokens end at the first end-of-turn (eos) token: a newline the template writes after
it (ChatML) is not part of the answer.

Module-level helpers find the language model's decoder through `get_decoder()` (`decoder_layers`, for
methods and probes that read or train a decoder layer) and put LoRA on it (`with_lora`), so no caller
guesses module names (`language_model`, `text_model`, `visual.blocks`, ...).
"""
import re
from pathlib import Path

from pebench.errors import UserError

# Family quirks, keyed by `model.config.model_type`; the only place where families differ.
#   nested_images: the processor takes `images=[[img], [], ...]` (one list per text) instead of a flat list.
#   answer_as_suffix: a prefix-LM (PaliGemma): the processor takes the answer as `suffix=`, types it 1 in
#       `token_type_ids` (causal attention; the prefix of image + question is bidirectional), writes its own
#       `<bos>` after the images and a newline after the question, and refuses rows without an image.
#   requires: (module, pebench extra) pairs the family's processor imports; missing -> one-line UserError.
#   decoder: dotted path of the language model's decoder where `get_decoder()` does not give it.
QUIRKS = {
    "idefics3": {"nested_images": True},
    "smolvlm": {"nested_images": True, "requires": (("torchvision", "smolvlm"), ("num2words", "smolvlm"))},
    "idefics2": {"nested_images": True},
    "mllama": {"nested_images": True},
    "paligemma": {"answer_as_suffix": True},
    "qwen2_vl": {"requires": (("torchvision", "qwen"),)},
    "qwen2_5_vl": {"requires": (("torchvision", "qwen"),)},
}
DEFAULT_QUIRKS = {"nested_images": False, "answer_as_suffix": False, "requires": (), "decoder": None}


def quirks_of(model_type):
    """The quirks of a `model_type` (defaults filled in)."""
    return {**DEFAULT_QUIRKS, **QUIRKS.get(model_type or "", {})}


def require(modules, extra, needed_by):
    """Import each of `modules`, or raise one UserError line naming the missing ones and the pebench extra.

    Any import failure counts, not only ImportError: a torchvision built for another torch raises
    RuntimeError or OSError at import.
    """
    import importlib

    missing = []
    for module in [modules] if isinstance(modules, str) else modules:
        try:
            importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - reported below, not swallowed
            missing.append(f"{module} ({_first_line(err)})")
    if missing:
        raise UserError(f"{needed_by} needs the package{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                        f"install with: pip install 'pebench[{extra}]'")


def require_packages(model_type):
    """Check the optional packages the `model_type`'s processor needs (`requires` in `QUIRKS`)."""
    needs = quirks_of(model_type)["requires"]
    for extra in dict.fromkeys(extra for _, extra in needs):
        require([module for module, e in needs if e == extra], extra, f"a {model_type} checkpoint")


def default_device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device):
    """bf16 on a CUDA device that supports it, else fp32 (fp16 flattens likelihoods: never the default)."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _dtype(value, device):
    import torch

    if value is None:
        return default_dtype(device)
    if isinstance(value, str):
        if not isinstance(getattr(torch, value, None), torch.dtype):
            raise UserError(f"unknown dtype {value!r}; choose from: float32, bfloat16, float16")
        return getattr(torch, value)
    return value


class VLM:
    """A vision-language model and its processor behind `encode`, `token_logprobs` and `generate`."""

    def __init__(self, model, processor, device=None, dtype=None):
        self.device = device or default_device()
        self.dtype = _dtype(dtype, self.device)
        self.model = model.to(self.device, dtype=self.dtype)
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.quirks = quirks_of(getattr(model.config, "model_type", ""))
        self.collator = self.encode  # what a `transformers.Trainer` calls on a list of rows
        _check_processor(processor, "this model")

    @classmethod
    def from_pretrained(cls, path, device=None, dtype=None, trust_remote_code=False):
        """Load a checkpoint folder (or hub id) with the Auto classes.

        Raises:
            UserError: the path does not exist, or the checkpoint is not an image-text-to-text model,
                has no chat template, or its processor takes no images.
        """
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if not Path(path).exists() and (str(path).startswith((".", "/", "~")) or str(path).count("/") != 1):
            raise UserError(f"model checkpoint {path} does not exist")
        require_packages(_model_type(path))
        try:
            processor = AutoProcessor.from_pretrained(str(path), trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load a processor from {path}: {_first_line(err)}") from None
        except ImportError as err:
            raise UserError(f"cannot load a processor from {path}: {_first_line(err)} "
                            f"(install the package {err.name or 'it names'})") from None
        _check_processor(processor, path)
        try:
            model = AutoModelForImageTextToText.from_pretrained(
                str(path), dtype=_dtype(dtype, device or default_device()), trust_remote_code=trust_remote_code)
        except (OSError, ValueError, KeyError) as err:
            raise UserError(f"{path} is not an image-text-to-text checkpoint: {_first_line(err)}") from None
        return cls(model, processor, device=device, dtype=dtype)

    # ------------------------------------------------------------------------------------ prompts
    def prompt(self, row, answer=None):
        """The chat-template text for `row` (generation prompt), or with `answer` as the assistant turn."""
        content = ([{"type": "image"}] if row.get("image") is not None else [])
        messages = [{"role": "user", "content": content + [{"type": "text", "text": row["question"]}]}]
        if answer is None:
            return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return self.processor.apply_chat_template(messages, tokenize=False)

    def _process(self, texts, rows, padding_side):
        images = [_rgb(row["image"]) for row in rows if row.get("image") is not None]
        if self.quirks["nested_images"]:
            images = [[_rgb(row["image"])] if row.get("image") is not None else [] for row in rows]
        kwargs = {"images": images} if any(images) else {}
        return self.processor(text=texts, return_tensors="pt", padding=True, padding_side=padding_side,
                              add_special_tokens=False, **kwargs)

    def _prompts(self, rows, padding_side, prefixes=None):
        """The generation-prompt batch for `rows` (what `generate` continues), the assistant turn opened
        with `prefixes` (one string per row) when given."""
        if self.quirks["answer_as_suffix"]:
            if prefixes is not None:
                raise NotImplementedError("a prefilled answer is not supported for prefix-LM families")
            return self._prefix_suffix(rows, None, padding_side)
        prefixes = prefixes or [""] * len(rows)
        return self._process([self.prompt(r) + p for r, p in zip(rows, prefixes)], rows, padding_side)

    def _prefix_suffix(self, rows, answers, padding_side):
        """A prefix-LM batch (PaliGemma): prefix typed 0 in `token_type_ids`, the answer (suffix) typed 1.

        Image rows go through the processor with `suffix=`; text-only rows, which the processor refuses
        (and, in a mixed batch, would get `<bos>` inserted mid-word), are tokenized in the processor's
        layout by `_text_prefix_suffix`. A `<bos>` the chat template writes itself is dropped, since the
        processor inserts one. The rows are then padded together.
        """
        bos = self.tokenizer.bos_token or ""
        prefixes = [self.prompt(r).replace(bos, "") if bos else self.prompt(r) for r in rows]
        answers = [None] * len(rows) if answers is None else answers
        pictured = [i for i, row in enumerate(rows) if row.get("image") is not None]
        rows_ids, extra = {}, {}
        if pictured:
            kwargs = {"suffix": [answers[i] for i in pictured]} if answers[0] is not None else {}
            batch = self.processor(text=[prefixes[i] for i in pictured], return_tensors="pt", padding=True,
                                   images=[_rgb(rows[i]["image"]) for i in pictured], add_special_tokens=False,
                                   **kwargs)
            for j, i in enumerate(pictured):
                real = batch["attention_mask"][j].bool()
                rows_ids[i] = (batch["input_ids"][j][real].tolist(), batch["token_type_ids"][j][real].tolist())
            extra = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask", "token_type_ids",
                                                                 "labels")}
        seqs = [rows_ids.get(i) or self._text_prefix_suffix(prefixes[i], answers[i]) for i in range(len(rows))]
        padded = self.tokenizer.pad({"input_ids": [ids for ids, _ in seqs], "token_type_ids": [t for _, t in seqs]},
                                    padding=True, padding_side=padding_side, return_tensors="pt",
                                    return_attention_mask=True)
        padded.update(extra)
        return padded

    def _text_prefix_suffix(self, prefix, answer=None):
        """(ids, token types) of a text-only prefix-LM row: `<bos>` question newline (0), answer `<eos>` (1)."""
        tokenize = self.tokenizer
        head = tokenize((tokenize.bos_token or "") + prefix + "\n", add_special_tokens=False)["input_ids"]
        tail = [] if answer is None else tokenize(answer + tokenize.eos_token, add_special_tokens=False)["input_ids"]
        return head + tail, [0] * len(head) + [1] * len(tail)

    # ------------------------------------------------------------------------------------- encode
    def encode(self, rows, answers=None):
        """A `BatchFeature` for `model(**batch)` with `labels` = -100 outside the answer tokens.

        Args:
            rows: dicts with `image` (PIL image or None), `question` and, unless `answers` is given,
                `answer`.
            answers: answers to use instead of `row["answer"]` (paraphrases, perturbations, refusals).
        """
        rows = list(rows)
        answers = [row["answer"] for row in rows] if answers is None else list(answers)
        if len(answers) != len(rows):
            raise ValueError(f"{len(answers)} answers for {len(rows)} rows")
        if self.quirks["answer_as_suffix"]:
            full = self._prefix_suffix(rows, answers, "right")
            prefix = (full["token_type_ids"] == 0) | (full["attention_mask"] == 0)
            labels = full["input_ids"].masked_fill(prefix, -100)
        else:
            full = self._process([self.prompt(r, a) for r, a in zip(rows, answers)], rows, "right")
            prompt = self._process([self.prompt(r) for r in rows], rows, "right")
            labels = full["input_ids"].clone()
            labels[full["attention_mask"] == 0] = -100
            for i, n in enumerate(prompt["attention_mask"].sum(1).tolist()):
                same = (full["input_ids"][i, :n] == prompt["input_ids"][i, :n]).long().cumprod(0).sum()
                labels[i, : int(same)] = -100  # a merge across the prompt/answer boundary joins the answer
        full["labels"] = _end_at_eos(labels, self.eos_ids())
        return full

    def eos_ids(self):
        """The ids that end an answer: the generation config's eos (one or several), else the tokenizer's."""
        eos = self.model.generation_config.eos_token_id
        eos = self.tokenizer.eos_token_id if eos is None else eos
        return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)

    def _inputs(self, batch):
        batch = batch.to(self.device)
        return {k: (v.to(self.dtype) if v.is_floating_point() else v) for k, v in batch.items()}

    # ----------------------------------------------------------------------------- log-likelihood
    def token_logprobs(self, rows, answers=None, batch_size=32, with_stats=False):
        """Per row, the log-probabilities of its answer tokens (float32 arrays, teacher forcing).

        With `with_stats`, also the expected log-prob `mean` and its standard deviation `std` under the
        model's own next-token distribution at each answer position (the z-score of min-k%++).
        """
        import torch

        rows = list(rows)
        answers = [row["answer"] for row in rows] if answers is None else list(answers)
        out = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                batch = self._inputs(self.encode(rows[start:start + batch_size], answers[start:start + batch_size]))
                labels = batch.pop("labels")
                logits = self.model(**batch).logits[:, :-1]
                out += _answer_logprobs(logits, labels[:, 1:], with_stats)
        return out

    # --------------------------------------------------------------------------------- generation
    def generate(self, rows, max_new_tokens=48, batch_size=32, prefixes=None):
        """Greedy answers for `rows` (decoded new text only, stripped), batched with left padding.

        `prefixes`: per row, text the assistant turn is prefilled with (an attack probe); the answer
        returned then starts with it.
        """
        import torch

        rows = list(rows)
        prefixes = None if prefixes is None else list(prefixes)
        texts = []
        self.model.eval()
        eos = self.eos_ids() or None
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                chunk = rows[start:start + batch_size]
                heads = None if prefixes is None else prefixes[start:start + batch_size]
                batch = self._inputs(self._prompts(chunk, "left", heads))
                ids = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                          eos_token_id=eos, pad_token_id=self.tokenizer.pad_token_id)
                new = ids[:, batch["input_ids"].shape[1]:]
                decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
                texts += [_joined(h, t).strip() for h, t in zip(heads or [""] * len(chunk), decoded)]
        return texts


def _joined(head, tail):
    """A prefilled opening and its continuation; a space between them where a tokenizer's decode drops it."""
    if head and tail and not head[-1].isspace() and not tail[0].isspace():
        return f"{head} {tail}"
    return (head or "") + tail


def _end_at_eos(labels, eos_ids):
    """`labels` with -100 after each row's first end-of-turn token (e.g. the newline ChatML writes after it).

    Why: what follows the end of turn is never generated, so it is no part of the answer's likelihood.
    """
    import torch

    if not eos_ids:
        return labels
    is_eos = torch.isin(labels, torch.tensor(eos_ids, device=labels.device)).long()
    return labels.masked_fill(torch.cumsum(is_eos, dim=1) - is_eos > 0, -100)


# ----------------------------------------------------------------------------------- decoders
def decoder(model):
    """The language model's decoder (`get_decoder()`, or the family's `decoder` quirk), through peft wrappers.

    Why not search module names: Qwen2-VL's vision tower `model.visual.blocks` is a layer list as long as
    the decoder's and its name lacks "vision"; Idefics3's decoder is `model.text_model`, not
    `language_model`. `get_decoder()` is what each transformers class says its decoder is.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    path = quirks_of(getattr(base.config, "model_type", ""))["decoder"]
    found = base.get_submodule(path) if path else base.get_decoder()
    if found is base or found is None:
        raise UserError(f"cannot find the language model's decoder of a {type(base).__name__}; add a "
                        "`decoder` path for its model_type to pebench.adapter.QUIRKS")
    return found


def decoder_layers(model):
    """The decoder's layer list (`decoder(model).layers`): what RMU trains and layer probes read."""
    import torch

    layers = getattr(decoder(model), "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise UserError(f"the decoder of a {type(model).__name__} has no `layers` list")
    return layers


def lora_targets(model):
    """A peft `target_modules` regex: every linear layer inside the decoder, by the decoder's module path.

    The projection names come from the decoder itself (q/k/v/o and gate/up/down for Llama, Qwen2, Gemma),
    so the vision tower, the projector and the LM head stay frozen and untouched.
    """
    import torch

    text = decoder(model)
    path = next(name for name, module in model.named_modules() if module is text)
    leaves = sorted({name.rsplit(".", 1)[-1] for name, module in text.named_modules()
                     if isinstance(module, torch.nn.Linear)})
    return rf"{re.escape(path)}\..*\.({'|'.join(map(re.escape, leaves))})"


def with_lora(model, rank):
    """LoRA adapters (peft, alpha = 2 x rank, no dropout) on the decoder's linear layers; rank 0: `model`.

    Callers merge them back (`merge_and_unload`) before saving, so checkpoints stay plain.
    """
    if not rank:
        return model
    require("peft", "lora", "LoRA (--lora / lora_r)")
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=lora_targets(model))
    return get_peft_model(model, config)


def _answer_logprobs(logits, targets, with_stats):
    """Split next-token log-probs at answer positions (targets != -100) into one dict per row."""
    import torch

    mask = targets != -100
    picked = torch.log_softmax(logits[mask].float(), dim=-1)  # only answer positions: [N, vocab]
    token = picked.gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    sizes = mask.sum(1).tolist()
    rows = [{"logprobs": t.cpu().numpy()} for t in token.split(sizes)]
    if with_stats:
        probs = picked.exp()
        mean = (probs * picked).sum(-1)
        std = ((probs * picked.square()).sum(-1) - mean.square()).clamp(min=0).sqrt()
        for row, m, s in zip(rows, mean.split(sizes), std.split(sizes)):
            row["mean"], row["std"] = m.cpu().numpy(), s.cpu().numpy()
    return rows


def _check_processor(processor, where):
    if not getattr(processor, "chat_template", None):
        raise UserError(f"{where} has no chat template; pebench builds every prompt with the processor's "
                        "chat template (add one to the processor/tokenizer config)")
    if getattr(processor, "image_processor", None) is None:
        raise UserError(f"{where} has no image support (its processor has no image processor)")


def _model_type(path):
    """`model_type` from a local checkpoint's config.json (None for a hub id or an unreadable file)."""
    import json

    try:
        return json.loads(Path(path, "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


def _rgb(image):
    return image if image.mode == "RGB" else image.convert("RGB")


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
