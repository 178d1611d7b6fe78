"""Tiny checkpoints of the model families pebench supports, built from transformers configs (random weights).

Each builder trains its own byte-level BPE tokenizer on the given texts (with the family's special tokens
and end-of-turn token), builds the family's real processor class with a chat template in the family's
style, and sizes the model's vocabulary after the processor (Idefics3 and PaliGemma processors add
tokens). `create` saves an ordinary checkpoint folder that `VLM.from_pretrained` loads back, as a user's
checkpoint would be: these are how the test suite proves that one adapter serves every family, and how a
user checks a new family in seconds before spending GPU hours on the real one.

| family | model class | vision + text | image tokens (32 px) | chat style |
|---|---|---|---|---|
| `llava` | `LlavaForConditionalGeneration` | CLIP + Llama | 16 (+ CLS dropped) | LLaVA-1.5 `USER: ... ASSISTANT:` |
| `llava_siglip_qwen2` | `LlavaForConditionalGeneration` | SigLIP + Qwen2 | 16 | ChatML (LLaVA-OneVision) |
| `idefics3` | `Idefics3ForConditionalGeneration` | SigLIP-like + Llama | 4 | `User:<image>...<end_of_utterance>` |
| `idefics3_split` | same, image splitting on | | 4 per tile x (4 + 1) | same |
| `paligemma` | `PaliGemmaForConditionalGeneration` | SigLIP + Gemma | 16 | prefix-LM, answer as `suffix=` |
| `qwen2_vl` | `Qwen2VLForConditionalGeneration` | Qwen2-VL ViT + Qwen2 | 4 (2 x 2 merge) | ChatML, `<|vision_start|>` |

A new family is one builder here plus, where it differs, a row in `pebench.adapter.QUIRKS`.
"""
from pebench import tiny

# One size for every family: a fraction of a second to build, a few seconds to train and score.
SIZE = dict(image_size=32, patch_size=8, vision_width=32, vision_layers=1, text_width=64, text_layers=2,
            heads=4, kv_heads=2, vocab_size=1024)

LLAVA_SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
CHATML_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
IDEFICS3_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                    "<global-img>"] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
PALIGEMMA_SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<image>"]
QWEN2_VL_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                    "<|image_pad|>", "<|video_pad|>"]

_CONTENT = ("{% if message['content'] is string %}{{ message['content'] }}{% else %}"
            "{% for c in message['content'] %}{% if c['type'] == 'image' %}IMAGE"
            "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}")


def chatml_template(image):
    """A ChatML template (Qwen, LLaVA-OneVision) whose image placeholder is `image`."""
    return ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n" + _CONTENT.replace("IMAGE", image)
            + "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}:{% else %}: {% endif %}"
    + _CONTENT.replace("IMAGE", "<image>") + "<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
# PaliGemma is a prefix-LM: images, then the question (the processor adds `<bos>` after the images and a
# newline after the question); the answer is the processor's `suffix`. An assistant turn is the bare answer.
PALIGEMMA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>{% endif %}{% endfor %}"
    "{% for c in message['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% else %}" + _CONTENT.replace("IMAGE", "") + "{{ eos_token }}{% endif %}{% endfor %}"
)


# --------------------------------------------------------------------------------------- builders
def llava(texts, seed=0):
    """LLaVA-1.5 style: CLIP vision tower (CLS token dropped: "default" select, 1 extra token) + Llama."""
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaProcessor

    tok = _tokenizer(texts + ["USER: ASSISTANT:"], LLAVA_SPECIAL, {"image_token": "<image>"},
                     pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    s = SIZE["image_size"]
    images = CLIPImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s})
    processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=SIZE["patch_size"],
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=tiny.CHAT_TEMPLATE)
    vision = CLIPVisionConfig(**_vision(), projection_dim=SIZE["vision_width"])
    config = LlavaConfig(vision_config=vision, text_config=LlamaConfig(**_text(tok)),
                         image_token_index=tok.image_token_id, vision_feature_select_strategy="default",
                         vision_feature_layer=-1)
    return _model("LlavaForConditionalGeneration", config, tok, seed), processor


def llava_siglip_qwen2(texts, seed=0):
    """LLaVA-OneVision style: SigLIP vision tower (no CLS: "full" select, 0 extra tokens) + Qwen2, ChatML."""
    from transformers import LlavaConfig, LlavaProcessor, Qwen2Config, SiglipImageProcessorPil, SiglipVisionConfig

    tok = _tokenizer(texts + ["user assistant"], CHATML_SPECIAL, {"image_token": "<image>"},
                     pad_token="<|endoftext|>", eos_token="<|im_end|>")
    s = SIZE["image_size"]
    processor = LlavaProcessor(image_processor=SiglipImageProcessorPil(size={"height": s, "width": s}),
                               tokenizer=tok, patch_size=SIZE["patch_size"], vision_feature_select_strategy="full",
                               num_additional_image_tokens=0, chat_template=chatml_template("<image>\n"))
    config = LlavaConfig(vision_config=SiglipVisionConfig(**_vision()), text_config=Qwen2Config(**_text(tok)),
                         image_token_index=tok.image_token_id, vision_feature_select_strategy="full",
                         vision_feature_layer=-1)
    return _model("LlavaForConditionalGeneration", config, tok, seed), processor


def idefics3(texts, seed=0, split_images=False):
    """SmolVLM / Idefics3: pixel-shuffled SigLIP-like encoder (4x fewer tokens) + Llama.

    With `split_images`, a 64 px image becomes 2 x 2 tiles of 32 px plus a global view (`<row_i_col_j>`
    and `<global-img>` markers), as SmolVLM does with large images.
    """
    from transformers import Idefics3Config, Idefics3ImageProcessorPil, Idefics3Processor, Idefics3VisionConfig
    from transformers import LlamaConfig

    tok = _tokenizer(texts + ["User: Assistant:"], IDEFICS3_SPECIAL, {},
                     pad_token="<|endoftext|>", bos_token="<|im_start|>", eos_token="<end_of_utterance>")
    s, scale = SIZE["image_size"], 2
    images = Idefics3ImageProcessorPil(do_image_splitting=split_images, size={"longest_edge": 2 * s},
                                       max_image_size={"longest_edge": s})
    seq_len = (s // SIZE["patch_size"]) ** 2 // scale ** 2
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=seq_len,
                                  chat_template=IDEFICS3_TEMPLATE)  # adds its tokens: size the model after it
    vision = Idefics3VisionConfig(**_vision())
    config = Idefics3Config(vision_config=vision, text_config=LlamaConfig(**_text(tok)).to_dict(),
                            image_token_id=processor.image_token_id, scale_factor=scale)
    return _model("Idefics3ForConditionalGeneration", config, tok, seed), processor


def idefics3_split(texts, seed=0):
    """`idefics3` with image splitting on (tiles + global view)."""
    return idefics3(texts, seed, split_images=True)


def paligemma(texts, seed=0):
    """PaliGemma: SigLIP + Gemma, a prefix-LM (bidirectional over image + question, causal answer)."""
    from transformers import GemmaConfig, PaliGemmaConfig, PaliGemmaProcessor, SiglipImageProcessorPil
    from transformers import SiglipVisionConfig

    tok = _tokenizer(texts, PALIGEMMA_SPECIAL, {"image_token": "<image>"},
                     pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>")
    s = SIZE["image_size"]
    images = SiglipImageProcessorPil(size={"height": s, "width": s})
    images.image_seq_length = (s // SIZE["patch_size"]) ** 2
    processor = PaliGemmaProcessor(image_processor=images, tokenizer=tok, chat_template=PALIGEMMA_TEMPLATE)
    text = GemmaConfig(**_text(tok), head_dim=SIZE["text_width"] // SIZE["heads"])
    config = PaliGemmaConfig(vision_config=SiglipVisionConfig(**_vision()), text_config=text,
                             image_token_index=tok.image_token_id, projection_dim=SIZE["text_width"],
                             hidden_size=SIZE["text_width"], vocab_size=len(tok))
    return _model("PaliGemmaForConditionalGeneration", config, tok, seed), processor


def qwen2_vl(texts, seed=0):
    """Qwen2-VL: its own ViT (2 x 2 patch merge, M-RoPE) + Qwen2, ChatML. The processor needs torchvision."""
    from pebench.adapter import require_packages

    tok = qwen2_vl_tokenizer(texts)
    model = qwen2_vl_model(tok, seed)
    require_packages("qwen2_vl")
    from transformers import Qwen2VLImageProcessorPil, Qwen2VLProcessor

    s = SIZE["image_size"]
    images = Qwen2VLImageProcessorPil(patch_size=SIZE["patch_size"], merge_size=2, temporal_patch_size=2,
                                      min_pixels=s * s, max_pixels=s * s)
    processor = Qwen2VLProcessor(image_processor=images, tokenizer=tok,
                                 chat_template=chatml_template("<|vision_start|><|image_pad|><|vision_end|>"))
    return model, processor


def qwen2_vl_tokenizer(texts):
    return _tokenizer(texts + ["user assistant"], QWEN2_VL_SPECIAL, {"image_token": "<|image_pad|>"},
                      pad_token="<|endoftext|>", eos_token="<|im_end|>")


def qwen2_vl_model(tok, seed=0):
    """The Qwen2-VL model alone (no processor, so no torchvision needed): for layer and LoRA checks.

    The vision tower is as deep as the decoder, so a layer lookup that takes the first layer list of the
    right length lands on `model.visual.blocks`.
    """
    from transformers import Qwen2VLConfig

    head = SIZE["text_width"] // SIZE["heads"]
    text = dict(_text(tok), rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                             "mrope_section": [head // 4, head // 8, head // 8]})
    vision = dict(depth=SIZE["text_layers"], embed_dim=SIZE["vision_width"], hidden_size=SIZE["text_width"],
                  num_heads=2, patch_size=SIZE["patch_size"], spatial_merge_size=2, temporal_patch_size=2)
    ids = tok.convert_tokens_to_ids
    config = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=tok.image_token_id,
                           video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
                           vision_end_token_id=ids("<|vision_end|>"))
    return _model("Qwen2VLForConditionalGeneration", config, tok, seed)


FAMILIES = {f.__name__: f for f in (llava, llava_siglip_qwen2, idefics3, idefics3_split, paligemma, qwen2_vl)}


def build(family, texts, seed=0):
    """(model, processor) of `family` for a tokenizer trained on `texts`, seeded.

    Raises:
        UserError: unknown family, or an optional package the family's processor needs is missing.
    """
    from pebench.errors import UserError

    if family not in FAMILIES:
        raise UserError(f"unknown model family {family!r}; choose from: {', '.join(FAMILIES)}")
    return FAMILIES[family](list(texts), seed)


def create(family, texts, out, seed=0):
    """Build `family` (see `build`) and save model + processor into `out`, an ordinary checkpoint folder."""
    model, processor = build(family, texts, seed)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


# --------------------------------------------------------------------------------------- helpers
def _tokenizer(texts, special, extra, **roles):
    return tiny.train_tokenizer(texts, SIZE["vocab_size"], special_tokens=special, extra_special_tokens=extra,
                                **roles)


def _vision():
    w = SIZE["vision_width"]
    return dict(hidden_size=w, intermediate_size=2 * w, num_hidden_layers=SIZE["vision_layers"],
                num_attention_heads=2, image_size=SIZE["image_size"], patch_size=SIZE["patch_size"])


def _text(tok):
    """Decoder sizes; the vocabulary is the tokenizer's *after* the processor added its tokens."""
    w = SIZE["text_width"]
    return dict(vocab_size=len(tok), hidden_size=w, intermediate_size=2 * w, num_hidden_layers=SIZE["text_layers"],
                num_attention_heads=SIZE["heads"], num_key_value_heads=SIZE["kv_heads"], max_position_embeddings=512,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                tie_word_embeddings=True)


def _model(class_name, config, tok, seed):
    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config)
    for key in ("eos_token_id", "pad_token_id", "bos_token_id"):
        setattr(model.generation_config, key, getattr(tok, key))
    return model.eval()
