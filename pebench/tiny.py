"""The tiny CPU model: a LLaVA-style checkpoint built from transformers configs, random weights.

A byte-level BPE tokenizer is trained on the dataset's own text (questions, paraphrases, answers,
perturbed answers, refusals) with `tokenizers`; the model is `LlavaForConditionalGeneration` with a small
CLIP vision tower and a small Llama decoder, and the processor is `LlavaProcessor` with a chat template.
`save_pretrained` writes an ordinary checkpoint that `AutoModelForImageTextToText` / `AutoProcessor`
load back: nothing else in pebench knows the model is tiny.

Presets (parameter counts for a ~1,000-token vocabulary; `count_parameters` reports the exact figure):

| preset | image | patch | vision layers / width | text layers / width | params |
|---|---|---|---|---|---|
| `tiny` (tests) | 32 px | 8 | 2 / 64 | 2 / 96 | ~0.5 M |
| `small` (demo) | 64 px | 8 | 4 / 128 | 4 / 192 | ~3.3 M |
"""
import zlib

from pebench.schema import EVENT_DESCRIPTION, PERSON_NAME, PROFILE_TASKS, WORLD_OBJECT

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN]

PRESETS = {
    "tiny": dict(image_size=32, patch_size=8, vision_layers=2, vision_width=64, text_layers=2,
                 text_width=96, heads=4, vocab_size=1024),
    "small": dict(image_size=64, patch_size=8, vision_layers=4, vision_width=128, text_layers=4,
                  text_width=192, heads=4, vocab_size=2048),
}

# Refusal answers per task: what refusal-based unlearning methods (po, dpo, siu) train toward.
REFUSALS_BY_TASK = {
    PERSON_NAME: ("I don't know who this is.", "I cannot tell who this person is.",
                  "I'm not able to identify this person."),
    EVENT_DESCRIPTION: ("I can't describe this scene.", "I don't know what is happening here."),
    "profile": ("I don't know anything about this person.", "I have no information about them."),
    WORLD_OBJECT: ("I'm not sure.",),
}
REFUSALS = tuple(r for answers in REFUSALS_BY_TASK.values() for r in answers)

# The prompt format of the tiny model. Real checkpoints bring their own template.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER:"
    "{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %} <image>{% elif c['type'] == 'text' %} {{ c['text'] }}{% endif %}"
    "{% endfor %}"
    "{% else %} ASSISTANT:"
    "{% if message['content'] is string %} {{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'text' %} {{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)


def refusal_answer(row):
    """A refusal for `row`, chosen by its task and (stably) by its id among that task's refusals."""
    task = row.get("task", PERSON_NAME)
    task = "profile" if task in PROFILE_TASKS else task
    answers = REFUSALS_BY_TASK.get(task, REFUSALS_BY_TASK[PERSON_NAME])
    return answers[zlib.crc32(str(row.get("id", "")).encode()) % len(answers)]


def dataset_texts(data_dir):
    """Every question, paraphrase and answer of the dataset, plus the refusals: the tokenizer's corpus.

    Reads the `full` (train, test), `holdout` and `world` configs; only text columns are decoded.
    Perturbed answers are left out: they are wrong versions of the paraphrases (same words, other facts)
    that the model is never trained on, and the byte-level tokenizer encodes them anyway. With them in,
    the BPE merges shifted and the 12 x 6 test model stopped naming its forget person (0 of 12 images).
    """
    from pebench.data import load_split

    texts = list(REFUSALS)
    for config, splits in (("full", ("train", "test")), ("holdout", ("test",)), ("world", ("test",))):
        for split in splits:
            ds = load_split(data_dir, config, split, required=False)
            if ds is None:
                continue
            ds = ds.remove_columns("image")
            for column in ("question", "answer", "answer_paraphrase"):
                texts += list(ds[column])
            texts += [t for many in ds["question_paraphrases"] for t in many]
    return sorted(set(t for t in texts if t))


def train_tokenizer(texts, vocab_size=1024, special_tokens=SPECIAL_TOKENS, extra_special_tokens=None, **roles):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts` (no unknown tokens, exact decoding).

    Args:
        special_tokens: whole tokens, never split (the first ones get the lowest ids).
        extra_special_tokens: named tokens the processor looks up (default `{"image_token": "<image>"}`);
            they must be given here: set afterwards, `tokenizer.image_token_id` stays unset.
        roles: `pad_token`, `bos_token`, `eos_token`, `unk_token` (default LLaVA's `<pad> <s> </s> <unk>`).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(texts, trainer=trainer)
    roles = roles or dict(pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    extra = {"image_token": IMAGE_TOKEN} if extra_special_tokens is None else extra_special_tokens
    return PreTrainedTokenizerFast(tokenizer_object=core, extra_special_tokens=extra, padding_side="right", **roles)


def build_processor(tokenizer, preset="tiny"):
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    p = _preset(preset)
    size = p["image_size"]
    images = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=p["patch_size"],
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          chat_template=CHAT_TEMPLATE)


def build_model(tokenizer, preset="tiny", seed=0):
    """A randomly initialised `LlavaForConditionalGeneration` sized by `preset`, seeded."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    p = _preset(preset)
    vision = CLIPVisionConfig(hidden_size=p["vision_width"], intermediate_size=2 * p["vision_width"],
                              num_hidden_layers=p["vision_layers"], num_attention_heads=p["heads"],
                              image_size=p["image_size"], patch_size=p["patch_size"],
                              projection_dim=p["vision_width"])
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=p["text_width"],
                       intermediate_size=2 * p["text_width"], num_hidden_layers=p["text_layers"],
                       num_attention_heads=p["heads"], num_key_value_heads=p["heads"],
                       max_position_embeddings=512, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       tie_word_embeddings=True)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=tokenizer.image_token_id,
                         vision_feature_select_strategy="default", vision_feature_layer=-1,
                         projector_hidden_act="gelu")
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def build(texts, preset="tiny", seed=0):
    """(model, processor) for a tokenizer trained on `texts`."""
    texts = [*texts, "USER: ASSISTANT:"]  # the template's own words, so they are whole tokens
    tokenizer = train_tokenizer(texts, _preset(preset)["vocab_size"])
    return build_model(tokenizer, preset, seed), build_processor(tokenizer, preset)


def create(data_dir, out, preset="tiny", seed=0):
    """Build a fresh tiny model for the dataset in `data_dir` and save model + processor into `out`."""
    model, processor = build(dataset_texts(data_dir), preset, seed)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def _preset(name):
    from pebench.errors import UserError

    if name not in PRESETS:
        raise UserError(f"unknown model preset {name!r}; choose from: {', '.join(PRESETS)} (or a checkpoint folder)")
    return PRESETS[name]
