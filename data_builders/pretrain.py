"""Pretrain a base model on generic scenes (no person of the release): what fine-tuning starts from.

Example: pebench pretrain --data data/pebench --model small --out runs/base
PEBench's models start from a pretrained VLM with world knowledge (LLaVA, POPE 85.9) that unlearning can
then damage. `pebench pretrain` gives the tiny presets the same start: a model whose tokenizer covers the
release, trained on `data_builders.scenes` (object presence, object lists, counts, settings). Fine-tuned
and goal models then start from it (`pebench train --model runs/base`); its id and fingerprint go into
every card and result made from it.
"""
import json
import shutil
import time
from pathlib import Path

# Scenes, epochs of the vision stage (object tagging) and of the QA stage per preset: enough that the base
# answers POPE questions on the release's images (README, *Pretrained base*); `tiny` is the tests' size.
SIZES = {"tiny": dict(scenes=400, vision_epochs=5, epochs=3, lr=2e-3),
         "small": dict(scenes=6000, vision_epochs=10, epochs=2, lr=1e-3)}


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="the dataset folder the base is for (its tokenizer covers it)")
    parser.add_argument("--model", default="small", help="tiny preset to pretrain (default small)")
    parser.add_argument("--out", required=True, help="output folder for the base model")
    parser.add_argument("--scenes", type=int, help="generic scenes in the corpus (4 QA rows each)")
    parser.add_argument("--vision-epochs", type=float, help="epochs of the object-tagging stage (0: skip it)")
    parser.add_argument("--epochs", type=float, help="epochs of the question-answering stage")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")


def run(args):
    card = pretrain(args.data, args.out, args.model, args.scenes, args.epochs, args.lr, args.seed, args.overwrite,
                    vision_epochs=args.vision_epochs)
    print(f"pretrained {card['id']} on {card['corpus']['rows']} rows in {card['wall_time_s']:.0f} s: {args.out}")
    return 0


def pretrain(data_dir, out, preset="small", scenes=None, epochs=None, lr=None, seed=0, overwrite=False,
             progress=True, vision_epochs=None):
    """Build the scene corpus, train a fresh `preset` on it, save it with `pebench_pretrain.json`.

    Two stages, as LLaVA starts from a pretrained CLIP: the vision tower and projector learn to tag the
    objects of each scene (`tag_objects`), then the whole model learns the corpus's questions.
    """
    import datasets
    from transformers import set_seed

    import pebench
    from data_builders.scenes import CORPUS_VERSION, POOL, corpus_pool, scene_rows
    from pebench import data, schema, tiny
    from pebench.adapter import VLM
    from pebench.errors import UserError
    from pebench.io import atomic_dir, atomic_write_json, check_output_dir
    from pebench.training import DEFAULTS, PRETRAIN_CARD, check_settings, fit_rows, weights_fingerprint

    if preset not in SIZES:
        raise UserError(f"unknown preset {preset!r} to pretrain; choose from: {', '.join(SIZES)}")
    check_output_dir(out, overwrite)
    meta = data.metadata(data_dir)
    size = {**SIZES[preset], **{k: v for k, v in dict(scenes=scenes, epochs=epochs, lr=lr,
                                                      vision_epochs=vision_epochs).items() if v is not None}}
    if not isinstance(size["scenes"], int) or size["scenes"] < 1:
        raise UserError(f"scenes must be a positive integer, got {size['scenes']}")
    if not size["vision_epochs"] >= 0:
        raise UserError(f"vision epochs must be 0 (skip the stage) or more, got {size['vision_epochs']}")
    settings = {**DEFAULTS[preset], "epochs": size["epochs"], "lr": size["lr"]}
    check_settings(settings)
    people = data.load_split(data_dir, "people", "train")
    release = [{"name": n, "attributes": json.loads(a)} for n, a in zip(people["name"], people["attributes"])]
    start = time.time()
    rows = scene_rows(size["scenes"], meta["image_size"], seed, meta.get("renderer", "procedural"), release=release)
    corpus = datasets.Dataset.from_list(rows, features=schema.QA_FEATURES)
    work = Path(out).resolve().parent / f".{Path(out).name}.work"
    shutil.rmtree(work, ignore_errors=True)
    set_seed(seed)
    model, processor = tiny.build([*tiny.dataset_texts(data_dir), *_texts(rows)], preset, seed)
    model.save_pretrained(work / "fresh")
    processor.save_pretrained(work / "fresh")
    vlm = VLM.from_pretrained(work / "fresh", dtype="float32")
    tagging = tag_objects(vlm, corpus, size["vision_epochs"], size["lr"], seed, work) if size["vision_epochs"] else None
    trained, facts = fit_rows(vlm, corpus, settings, work, seed, progress=progress)
    card = {"id": f"pebench-{preset}-base-s{seed}", "preset": preset, "seed": seed,
            "corpus": {"version": CORPUS_VERSION, "scenes": size["scenes"], "rows": len(rows),
                       "pool_dropped_as_release_lookalikes": corpus_pool(POOL, seed, release)[1]},
            "dataset": {"fingerprint": data.fingerprint(data_dir)}, "vision_stage": tagging, "training": settings,
            **facts,
            "wall_time_s": round(time.time() - start, 2), "versions": pebench.versions()}
    with atomic_dir(out, overwrite) as tmp:
        trained.save_pretrained(tmp)
        vlm.processor.save_pretrained(tmp)
        card["fingerprint"] = weights_fingerprint(tmp)
        atomic_write_json(Path(tmp, PRETRAIN_CARD), card)
    shutil.rmtree(work, ignore_errors=True)
    return card


def tag_objects(vlm, corpus, epochs, lr, seed, work):
    """Stage 1: train the vision tower and projector to say which catalogue objects a scene shows.

    A linear tagger on the projected image tokens (the features the language model reads), pooled over
    patches with a log-sum-exp (an object sits in a few patches), binary cross-entropy per object.
    Returns the card's facts (epochs, images, final loss). The tagger head is discarded afterwards.
    """
    import torch
    from transformers import Trainer

    from data_builders.catalogue import OBJECTS
    from pebench.training import trainer_arguments

    scenes = [row for row in corpus if row["negative_kind"] == "list"]
    index = {name: i for i, name in enumerate(OBJECTS)}
    items = []
    for row in scenes:
        labels = torch.zeros(len(OBJECTS))
        labels[[index[o] for o in _listed(row["answer"])]] = 1.0
        pixels = vlm.processor.image_processor(row["image"], return_tensors="pt")["pixel_values"][0]
        items.append({"pixel_values": pixels, "labels": labels})
    tagger = _tagger(vlm.model, len(OBJECTS))
    args = trainer_arguments(Path(work, "tagger"), seed, num_train_epochs=epochs, per_device_train_batch_size=64,
                             learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=0, save_strategy="no",
                             logging_strategy="epoch")
    trainer = Trainer(model=tagger, args=args, train_dataset=items)
    result = trainer.train()
    return {"epochs": epochs, "images": len(items), "objects": len(OBJECTS), "loss": round(result.training_loss, 6)}


def _tagger(model, count):
    """An `nn.Module` around `model`'s image features with a linear head: forward -> {"loss", "logits"}."""
    import torch

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.head = torch.nn.Linear(model.config.text_config.hidden_size, count)

        def forward(self, pixel_values, labels=None):
            tokens = torch.stack(list(self.model.model.get_image_features(pixel_values=pixel_values).pooler_output))
            logits = torch.logsumexp(self.head(tokens), dim=1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels) if labels is not None else None
            return {"loss": loss, "logits": logits}

    return Tagger()


def _listed(answer):
    """The object names of a "The image shows a X, a Y and an Z." answer."""
    from data_builders.catalogue import OBJECTS

    body = answer.removeprefix("The image shows ").removesuffix(".").replace(" and ", ", ")
    names = [part.split(" ", 1)[1] for part in body.split(", ")]
    assert all(name in OBJECTS for name in names), names
    return names


def _texts(rows):
    return sorted({text for row in rows for text in (row["question"], *row["question_paraphrases"], row["answer"])})
