"""Pretrain a base model on generic scenes (no person of the release): what fine-tuning starts from.

Example: pebench pretrain --data data/pebench --model small --out runs/base
PEBench's models start from a pretrained VLM with world knowledge (LLaVA, POPE 85.9) that unlearning can
then damage. `pebench pretrain` gives the tiny presets the same start: a model whose tokenizer covers the
release, trained on `data_builders.scenes` (object presence, object lists, counts, settings). Fine-tuned
and goal models then start from it (`pebench train --model runs/base`); its id and fingerprint go into
every card and result made from it.
"""
import argparse
import json
import shutil
import time
from pathlib import Path

# Scenes, epochs of the vision stage (object tagging), the token curriculum's phases ("none": skipped) and
# epochs of the QA stage per preset (README, *Pretrained base*); `tiny` is the tests' size.
SIZES = {"tiny": dict(scenes=400, vision_epochs=5, vision_lr=2e-3, tokens="free", describe=False,
                      curriculum="glimpse/clean:2,glimpse/blend:2,glimpse/real:2", epochs=3, lr=2e-3),
         "small": dict(scenes=6000, vision_epochs=12, vision_lr=1e-3, tokens="free", describe=False,
                       curriculum="none", epochs=2, lr=3e-4)}
# `small` with --tokens names and this curriculum: world 81.7 % on the demo release (free head: 62.3 %), but
# a model fine-tuned from it learns names poorly (README, *Known limits*), so it is not the default yet.
WORLD_RECIPE = "glimpse/clean:1000,glimpse/blend:1500,glimpse/real:2000"
TOKENS = ("free", "names")  # what the projector writes: a free head's tokens, or the names' embeddings
REPLAY_ROWS = 4000  # corpus rows kept in the base folder for `pebench train --replay N` (a seeded sample)
GLIMPSE = 12  # image tokens of a glimpse: one per object shown (a scene draws at most 7 + clutter), then padding


def corpus_version():
    """What `pebench demo` keys its pretrain stage with: a new scene corpus re-trains the demo's base."""
    from data_builders.scenes import CORPUS_VERSION

    return CORPUS_VERSION


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="the dataset folder the base is for (its tokenizer covers it)")
    parser.add_argument("--model", default="small", help="tiny preset to pretrain (default small)")
    parser.add_argument("--out", required=True, help="output folder for the base model")
    parser.add_argument("--scenes", type=int, help="generic scenes in the corpus (4 QA rows each)")
    parser.add_argument("--vision-epochs", type=float, help="epochs of the object-tagging stage (0: skip it)")
    parser.add_argument("--vision-lr", type=float, help="learning rate of the object-tagging stage")
    parser.add_argument("--curriculum", metavar="VIEW/TOKENS:STEPS,...",
                        help=f"presence warm-up phases before the QA stage (VIEW glimpse|image, TOKENS "
                             f"clean|blend|real; none: skip); with --tokens names, {WORLD_RECIPE} is the one "
                             f"measured (README, Known limits)")
    parser.add_argument("--tokens", choices=TOKENS,
                        help="names: tag in the projector's hidden layer and make its tokens the names' embeddings "
                             "(needs a projector with a channel per label: small, not tiny); free: a free head")
    parser.add_argument("--describe-people", dest="describe", action=argparse.BooleanOptionalAction, default=None,
                        help="also ask what each scene's unnamed person looks like (hair, shirt, ...)")
    parser.add_argument("--epochs", type=float, help="epochs of the question-answering stage")
    parser.add_argument("--lr", type=float, help="learning rate of the question-answering stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")


def run(args):
    card = pretrain(args.data, args.out, args.model, args.scenes, args.epochs, args.lr, args.seed, args.overwrite,
                    vision_epochs=args.vision_epochs, vision_lr=args.vision_lr, curriculum=args.curriculum,
                    tokens=args.tokens, describe=args.describe)
    print(f"pretrained {card['id']} on {card['corpus']['rows']} rows in {card['wall_time_s']:.0f} s: {args.out}")
    return 0


def pretrain(data_dir, out, preset="small", scenes=None, epochs=None, lr=None, seed=0, overwrite=False,
             progress=True, vision_epochs=None, vision_lr=None, curriculum=None, tokens=None, describe=None):
    """Build the scene corpus, train a fresh `preset` on it, save it with `pebench_pretrain.json`.

    Stages, as LLaVA starts from a pretrained CLIP: the vision tower and projector learn to tag the
    objects of each scene patch by patch (`tag_objects`); then, on the frozen vision tower, projector and
    language model learn (if a `curriculum` is given) presence questions with image tokens moving from the
    names' embeddings to the projector's (`token_curriculum`), then the corpus's questions on whole images.
    """
    import datasets
    from transformers import set_seed

    import pebench
    from data_builders.catalogue import OBJECTS
    from data_builders.scenes import CORPUS_VERSION, corpus_pool, pool_size, scene_corpus
    from pebench import data, schema, tiny
    from pebench.adapter import VLM
    from pebench.errors import UserError
    from pebench.io import atomic_dir, atomic_write_json, check_output_dir
    from pebench.training import DEFAULTS, PRETRAIN_CARD, check_settings, fit_rows, weights_fingerprint

    if preset not in SIZES:
        raise UserError(f"unknown preset {preset!r} to pretrain; choose from: {', '.join(SIZES)}")
    check_output_dir(out, overwrite)
    meta = data.metadata(data_dir)
    given = dict(scenes=scenes, epochs=epochs, lr=lr, vision_epochs=vision_epochs, vision_lr=vision_lr,
                 curriculum=curriculum, tokens=tokens, describe=describe)
    size = {**SIZES[preset], **{k: v for k, v in given.items() if v is not None}}
    if not isinstance(size["scenes"], int) or size["scenes"] < 1:
        raise UserError(f"scenes must be a positive integer, got {size['scenes']}")
    if not size["vision_epochs"] >= 0:
        raise UserError(f"vision epochs must be 0 (skip the stage) or more, got {size['vision_epochs']}")
    labels = len(OBJECTS) + 1  # "nothing" + the catalogue
    if size["tokens"] not in TOKENS:
        raise UserError(f"tokens must be one of {', '.join(TOKENS)}, got {size['tokens']!r}")
    name_tokens = size["tokens"] == "names"
    if name_tokens and tiny.PRESETS[preset]["text_width"] < labels:
        raise UserError(f"--tokens names needs a projector with a hidden channel per label ({labels}); {preset}'s "
                        f"has {tiny.PRESETS[preset]['text_width']} (use --model small)")
    phases = parse_curriculum(size["curriculum"])
    if not size["vision_lr"] > 0:
        raise UserError(f"vision lr must be positive, got {size['vision_lr']}")
    settings = {**DEFAULTS[preset], "epochs": size["epochs"], "lr": size["lr"]}
    check_settings(settings)
    people = data.load_split(data_dir, "people", "train")
    release = [{"name": n, "attributes": json.loads(a)} for n, a in zip(people["name"], people["attributes"])]
    start = time.time()
    rows, maps = scene_corpus(size["scenes"], meta["image_size"], seed, meta.get("renderer", "procedural"),
                              release=release, describe=size["describe"])
    corpus = datasets.Dataset.from_list(rows, features=schema.QA_FEATURES)
    work = Path(out).resolve().parent / f".{Path(out).name}.work"
    shutil.rmtree(work, ignore_errors=True)
    set_seed(seed)
    model, processor = tiny.build([*tiny.dataset_texts(data_dir), *_texts(rows)], preset, seed)
    model.save_pretrained(work / "fresh")
    processor.save_pretrained(work / "fresh")
    vlm = VLM.from_pretrained(work / "fresh", dtype="float32")
    images = [row["image"] for row in corpus if row["negative_kind"] == "list"]  # one row per scene
    tagging = (tag_objects(vlm, images, maps, size["vision_epochs"], size["vision_lr"], seed, work, name_tokens)
               if size["vision_epochs"] else None)
    vision = vlm.model.model.vision_tower
    vision.requires_grad_(False)  # stage 2 trains projector + language model on a frozen encoder, as LLaVA's
    warmup = token_curriculum(vlm, corpus, maps, phases, settings, work, seed, progress) if phases else None
    trained, facts = fit_rows(vlm, corpus, settings, work, seed, progress=progress)
    vision.requires_grad_(True)
    card = {"id": f"pebench-{preset}-base-s{seed}", "preset": preset, "seed": seed,
            "corpus": {"version": CORPUS_VERSION, "scenes": size["scenes"], "rows": len(rows),
                       "describe_people": size["describe"], "pool": pool_size(describe=size["describe"]),
                       "pool_dropped_as_release_lookalikes": corpus_pool(
                           pool_size(describe=size["describe"]), seed, release)[1]},
            "dataset": {"fingerprint": data.fingerprint(data_dir)}, "vision_stage": tagging,
            "curriculum_stage": warmup, "training": settings,
            **facts,
            "wall_time_s": round(time.time() - start, 2), "versions": pebench.versions()}
    with atomic_dir(out, overwrite) as tmp:
        trained.save_pretrained(tmp)
        vlm.processor.save_pretrained(tmp)
        card["fingerprint"] = weights_fingerprint(tmp)
        card["replay"] = write_replay(corpus, tmp, seed)
        atomic_write_json(Path(tmp, PRETRAIN_CARD), card)
    shutil.rmtree(work, ignore_errors=True)
    return card


def write_replay(corpus, folder, seed, count=REPLAY_ROWS):
    """A seeded sample of the corpus's rows beside the weights (`replay.parquet`); returns the card's entry.

    Why: fine-tuning on a release in which world questions are 2 % of the rows (200 x 40) took the base's
    world from 59.3 % to 50.0 %; `pebench train --replay N` mixes N of these rows into the fine-tuned and
    goal models' training, as LLaVA-style fine-tuning mixes general data, so both can keep what the base knew.
    """
    from pebench.io import file_sha256
    from pebench.training import REPLAY_FILE

    sample = corpus.shuffle(seed=seed).select(range(min(count, len(corpus))))
    sample.to_parquet(str(Path(folder, REPLAY_FILE)))
    return {"file": REPLAY_FILE, "rows": len(sample), "sha256": file_sha256(Path(folder, REPLAY_FILE))}


def tag_objects(vlm, images, maps, epochs, lr, seed, work, name_tokens=False, held_out=0.05):
    """Stage 1: train the vision tower and projector to say, for every image patch, which object it shows.

    Dense labels (the object covering at least a quarter of a patch, else "nothing") teach what a bag of
    scene labels cannot in CPU time: a tagger told only "these 6 of 139 objects are somewhere" stayed at
    presence AUC 0.58-0.59 after ~10 epochs, the dense one reaches 0.97 (README, *Pretrained base*).
    A linear head reads the projected image tokens and is discarded after. With `name_tokens`, the
    projector's hidden layer is the tagger instead (one channel per label) and its output layer is then set
    to the language model's embeddings of the names (`_speak_names`): an image token is a weighted name
    embedding, the form the language model learns presence from when the tokens are exact
    (docs/experiments/world_binding.log, 1,000 steps on object lists: 86.7 % with the names' embeddings,
    57.5 % with unrelated vectors); the decoder reads the tagger's tokens only after `token_curriculum`
    (same log). Returns the
    card's facts, with the presence AUC on `held_out` scenes never trained on (the score of "object k is in
    scene i" is its best patch's log-probability).
    """
    import torch
    from transformers import Trainer

    from data_builders.catalogue import OBJECTS
    from pebench.training import trainer_arguments

    vision = vlm.model.config.vision_config
    side = vision.image_size // vision.patch_size  # patches per row the tower sees (images are resized to it)
    items = [{"pixel_values": vlm.processor.image_processor(image, return_tensors="pt")["pixel_values"][0],
              "labels": patch_labels(objects, side)} for image, objects in zip(images, maps)]
    cut = len(items) - max(1, int(held_out * len(items))) if len(items) > 1 else len(items)
    tagger = _tagger(vlm.model, len(OBJECTS) + 1, name_tokens)
    args = trainer_arguments(Path(work, "tagger"), seed, num_train_epochs=epochs, per_device_train_batch_size=64,
                             learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=0.05, save_strategy="no",
                             logging_strategy="epoch", weight_decay=0.0)
    result = Trainer(model=tagger, args=args, train_dataset=items[:cut]).train()
    facts = {"epochs": epochs, "lr": lr, "images": cut, "objects": len(OBJECTS), "loss": round(result.training_loss, 6),
             "patches_with_an_object": round(float(torch.stack([i["labels"] for i in items]).gt(0).float().mean()), 4)}
    test = items[cut:]
    if test:
        with torch.no_grad():
            logits = tagger(torch.stack([i["pixel_values"] for i in test]))["logits"]
        score = logits.log_softmax(-1)[:, :, 1:].amax(1)
        shown = shown_objects(torch.stack([i["labels"] for i in test]), len(OBJECTS))
        facts.update(held_out_scenes=len(test), held_out_presence_auc=round(presence_auc(score, shown), 4))
    if name_tokens:
        _speak_names(vlm, len(OBJECTS) + 1)
    facts["tokens"] = "name embeddings" if name_tokens else "free"
    return facts


def token_curriculum(vlm, corpus, maps, phases, settings, work, seed, progress=True):
    """Stage 2a (optional): presence questions whose image tokens move from the names' own embeddings to the
    projector's, phase by phase (`parse_curriculum`). Returns the card's facts.

    Why: the `small` decoder learns presence from *perfect* tokens (the names' embeddings) but, started on the
    projector's real tokens (aligned with the names at cosine ~0.67), settles on a prior over names (60-61 %
    after 2,000 steps); learnt on clean tokens first and moved to the real ones by a linear blend, it reads
    the real ones: with `--tokens names` and `WORLD_RECIPE` the base's world on the demo release went from
    62.3 % to 81.7 % (docs/experiments/world_binding.log). A phase's view is a glimpse (per object of the scene,
    the patch it covers most; `GLIMPSE` tokens) or the whole image; its tokens are `clean` (each patch's
    label's name embedding, 0 for nothing), `real`, or `blend` (clean -> real, linearly over the phase).
    """
    import torch
    from transformers import Trainer, TrainerCallback

    from pebench.training import answer_mean_loss, trainer_arguments

    vision = vlm.model.config.vision_config
    side = vision.image_size // vision.patch_size
    views = {"glimpse": torch.stack([glimpse_patches(m, side) for m in maps]),
             "image": torch.arange(side * side).expand(len(maps), -1)}
    labels = torch.stack([patch_labels(m, side) for m in maps])
    rows = corpus.filter(lambda kind: kind in ("present", "absent"), input_columns="negative_kind")
    model = _mixing(vlm.model, answer_mean_loss, _name_token_ids(vlm))

    class Blend(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            model.mix = state.global_step / state.max_steps

    done = []
    for index, (view, tokens, steps) in enumerate(phases):
        def collate(batch, shown=views[view]):
            encoded = vlm.encode(batch)
            scenes = [scene_index(row) for row in batch]
            encoded["patches"] = shown[scenes]
            encoded["patch_labels"] = labels[scenes].gather(1, encoded["patches"])
            return encoded

        args = trainer_arguments(Path(work, f"curriculum{index}"), seed, progress, max_steps=steps,
                                 per_device_train_batch_size=settings["batch_size"], learning_rate=settings["lr"],
                                 warmup_steps=settings["warmup"], weight_decay=settings["weight_decay"],
                                 lr_scheduler_type="cosine", save_strategy="no", logging_steps=10)
        model.mix = 0.0 if tokens != "real" else 1.0
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate,
                          callbacks=[Blend()] if tokens == "blend" else [])
        result = trainer.train()
        done.append({"view": view, "tokens": tokens, "steps": trainer.state.global_step,
                     "loss": round(result.training_loss, 6)})
    return {"lr": settings["lr"], "rows": len(rows), "glimpse_tokens": GLIMPSE, "phases": done}


CURRICULUM_VIEWS, CURRICULUM_TOKENS = ("glimpse", "image"), ("clean", "blend", "real")


def parse_curriculum(spec):
    """"glimpse/clean:1000,glimpse/blend:1500,..." -> [(view, tokens, steps)]; "" or "none" -> [] (no stage)."""
    from pebench.errors import UserError

    if spec.strip() in ("", "none"):
        return []
    phases = []
    for part in spec.split(","):
        view, _, rest = part.strip().partition("/")
        tokens, _, steps = rest.partition(":")
        if view not in CURRICULUM_VIEWS or tokens not in CURRICULUM_TOKENS or not steps.isdigit() or int(steps) < 1:
            raise UserError(f"curriculum phase {part.strip()!r}: want VIEW/TOKENS:STEPS with VIEW "
                            f"{'|'.join(CURRICULUM_VIEWS)}, TOKENS {'|'.join(CURRICULUM_TOKENS)}, STEPS >= 1")
        phases.append((view, tokens, int(steps)))
    return phases


def scene_index(row):
    """The corpus scene a row asks about (its id is `pretrain/{index}/{kind}`)."""
    return int(row["id"].split("/")[1])


def glimpse_patches(objects, side, count=GLIMPSE):
    """Indices (row-major) of `count` patches of a side x side grid: for each object of the map (by catalogue
    label), the patch it covers most, in image order; then the emptiest patches as padding."""
    import numpy as np
    import torch

    cells = _patch_cells(objects, side)
    labels = [int(k) for k in np.unique(cells) if k > 0]
    best = sorted({int((cells == k).sum(1).argmax()) for k in labels})[:count]
    empty = np.argsort((cells > 0).sum(1), kind="stable")
    padding = [int(i) for i in empty if int(i) not in best][:count - len(best)]
    return torch.tensor(best + padding)


def _mixing(model, loss_of, name_ids):
    """An `nn.Module` around a LLaVA `model` whose image is only the `patches` it is given, each token
    (1 - mix) x the name embedding of the patch's label + mix x the projector's token: forward ->
    {"loss", "logits", "labels"} (labels cut to the image's new length).

    The image placeholder block (the same place in every row: the image opens the prompt) is replaced;
    mask and labels are cut to match. `name_ids[k]`: object k's token ids; the clean table is read from the
    live embeddings (label 0, nothing: a zero vector). `mix` 1 (the default) is the projector alone. The
    clean tokens are matrix products (labels one-hot x names' token means x embeddings), not indexing: an
    indexing backward accumulates repeated rows in a thread-dependent order, and the same seed on 2 threads
    gave other bytes.
    """
    import torch

    vocab = model.get_input_embeddings().weight.shape[0]
    means = torch.zeros(len(name_ids) + 1, vocab)  # row k + 1: the mean over object k's tokens; row 0: nothing
    for row, ids in enumerate(name_ids, start=1):
        for token in ids:
            means[row, token] += 1.0 / len(ids)

    class Mixing(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.mix = 1.0

        def forward(self, input_ids, attention_mask, pixel_values, labels, patches, patch_labels=None):
            image = (input_ids == self.model.config.image_token_id)
            start, length = int(image[0].nonzero()[0]), int(image[0].sum())
            if not bool(image[:, start:start + length].all()):
                raise ValueError("glimpses need the image at the same place in every row")
            embed = self.model.get_input_embeddings()
            seen = 0.0
            if self.mix > 0:
                tokens = _image_tokens(self.model, pixel_values)
                seen = self.mix * tokens.gather(1, patches[..., None].expand(-1, -1, tokens.shape[-1]))
            if self.mix < 1:
                table = means.to(embed.weight) @ embed.weight
                pick = torch.nn.functional.one_hot(patch_labels, len(means)).to(table)
                seen = seen + (1 - self.mix) * (pick @ table)

            def cut(x, middle):
                return torch.cat([x[:, :start], middle, x[:, start + length:]], 1)

            embeds = cut(embed(input_ids), seen)
            mask = cut(attention_mask, attention_mask.new_ones(patches.shape))
            labels = cut(labels, labels.new_full(patches.shape, -100))
            logits = self.model(inputs_embeds=embeds, attention_mask=mask).logits
            return {"loss": loss_of(logits, labels), "logits": logits, "labels": labels}

    return Mixing()


def shown_objects(patches, count):
    """(scenes x `count`) 0/1: which catalogue objects a scene's patch labels name (label k = object k - 1)."""
    import torch

    shown = torch.zeros(len(patches), count + 1)
    shown.scatter_(1, patches, 1.0)
    return shown[:, 1:]


def presence_auc(scores, shown):
    """AUC of "object k is in scene i" scores against `shown_objects` (0.5: no better than chance)."""
    from pebench.metrics.auc import auc

    scores, shown = scores.flatten().numpy(), shown.flatten().numpy() > 0
    return float(auc(scores[~shown], scores[shown]))


def patch_labels(objects, side):
    """Per patch of a side x side grid (row-major, as the vision tower orders them): 1 + the catalogue index
    of the object covering most of it if it covers at least a quarter, else 0 (background or person)."""
    import numpy as np
    import torch

    cells = _patch_cells(objects, side)
    labels = []
    for cell in cells:
        counts = np.bincount(cell, minlength=2)
        counts[0] = 0
        labels.append(int(counts.argmax()) if counts.max() * 4 >= cell.size else 0)
    return torch.tensor(labels)


def _patch_cells(objects, side):
    """(side * side, pixels per patch): a map's pixels grouped by the patch they fall in, row-major as the
    vision tower orders patches (the map is at the image's own size)."""
    block = objects.shape[0] // side
    cells = objects[:side * block, :side * block].reshape(side, block, side, block).transpose(0, 2, 1, 3)
    return cells.reshape(side * side, block * block)


def _image_tokens(model, pixel_values):
    """(images, patches, width): the projected image tokens a LLaVA `model` puts in the prompt."""
    import torch

    return torch.stack(list(model.model.get_image_features(pixel_values=pixel_values).pooler_output))


def name_embeddings(vlm):
    """(objects, width): each catalogue object's name as the language model embeds it (mean of its tokens)."""
    import torch

    table = vlm.model.get_input_embeddings().weight.detach()
    return torch.stack([table[ids].mean(0) for ids in _name_token_ids(vlm)])


def _name_token_ids(vlm):
    """Each catalogue object's name as token ids (with its leading space, as a question writes it)."""
    from data_builders.catalogue import OBJECTS

    return [vlm.processor.tokenizer(" " + name, add_special_tokens=False)["input_ids"] for name in OBJECTS]


def _speak_names(vlm, count):
    """Set the projector's output layer so hidden channel k (label k) writes object k's name embedding
    (label 0, nothing, writes nothing) and the other channels write nothing."""
    import torch

    out = vlm.model.model.multi_modal_projector.linear_2
    with torch.no_grad():
        out.weight.zero_()
        out.bias.zero_()
        out.weight[:, 1:count] = name_embeddings(vlm).T


def _tagger(model, count, names=False):
    """An `nn.Module` tagging each patch with one of `count` labels: forward -> {"loss", "logits"}.

    The logits come from a linear head on the image tokens or, with `names`, are the projector's hidden
    layer (its first `count` channels, before the activation).
    """
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits, cross_entropy, one_hot

    projector = model.model.multi_modal_projector

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.head = None if names else torch.nn.Linear(model.config.text_config.hidden_size, count)

        def forward(self, pixel_values, labels=None):
            if names:
                logits = self.hidden(pixel_values)[..., :count]
            else:
                logits = self.head(_image_tokens(self.model, pixel_values))
            if labels is None:
                return {"loss": None, "logits": logits}
            flat, target = logits.flatten(0, 1), labels.flatten()
            loss = cross_entropy(flat, target)  # tells the labels apart
            if names:  # and keeps every absent label below 0, where the activation silences its channel
                balance = torch.tensor(float(count - 1))  # one label of `count` is right
                loss = loss + binary_cross_entropy_with_logits(flat, one_hot(target, count).to(flat.dtype),
                                                               pos_weight=balance, reduction="sum") / flat.numel()
            return {"loss": loss, "logits": logits}

        def hidden(self, pixel_values):
            """The projector's hidden layer (before the activation), read with a forward hook."""
            seen = []
            hook = projector.linear_1.register_forward_hook(lambda module, args, out: seen.append(out))
            try:
                _image_tokens(self.model, pixel_values)
            finally:
                hook.remove()
            return seen[0]

    return Tagger()


def _texts(rows):
    return sorted({text for row in rows for text in (row["question"], *row["question_paraphrases"], row["answer"])})
