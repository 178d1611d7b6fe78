"""Language-model stages of `pebench pretrain` tried on a tagged model (from `tag_names.py`).

    python docs/experiments/glimpse_stage.py TAGGED [--oracle 0] [--blend 0] [--glimpse 1000] [--full 0]
        [--phases VIEW/TOKENS:STEPS,...] [--lr 3e-4] [--sharpen 1] [--bias none|image|image4]
        [--freeze-projector] [--auc] [--threads 1]

Trains presence questions of scenes 0-5699 for `--oracle` steps on clean glimpses (each glimpse patch's
label's name embedding), `--blend` steps moving them linearly to the real tokens, `--glimpse` steps on real
glimpses (the projector's token at each object's best patch, `pretrain.glimpse_patches`), then `--full`
steps on whole images; or the phases of `--phases` (VIEW glimpse|full, TOKENS clean|blend|real). Batch 32,
a cosine schedule per phase. Every 250 steps it prints accuracy and yes-ratio on 600 presence questions
about scenes 5700+ (never tagged or trained on): real glimpses | real whole images | clean glimpses.
`--sharpen A` multiplies the tagging channels of the projector's hidden layer by A; `--bias` sets the
projector's output bias to the `<image>` token's embedding (x1 or x4) so that empty patches are not ~0
vectors. First line: the tokens' cosine to their object's name embedding. Until the third session the
clean tokens were the scene's distinct objects in label order, not the glimpse patches' labels, and the
print had no clean column. Results: docs/experiments/world_binding.log.
"""
import sys as _sys
from pathlib import Path as _Path
_sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))
import argparse, pickle, sys, time, torch, datasets
from pathlib import Path
import data_builders.pretrain as P
from pebench.adapter import VLM
from pebench.training import answer_mean_loss, trainer_arguments
from transformers import Trainer, set_seed
ap = argparse.ArgumentParser()
ap.add_argument("tagged"); ap.add_argument("--sharpen", type=float, default=1.0)
ap.add_argument("--glimpse", type=int, default=1000); ap.add_argument("--full", type=int, default=0)
ap.add_argument("--lr", type=float, default=3e-4); ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--freeze-projector", action="store_true")
ap.add_argument("--bias", choices=["none", "image", "image4"], default="none")
ap.add_argument("--auc", action="store_true",
                help="only print how well max cosine(token, asked name) separates present from absent, then stop")
ap.add_argument("--oracle", type=int, default=0, help="steps with clean name-embedding glimpses first")
ap.add_argument("--blend", type=int, default=0,
                help="then steps whose glimpse tokens move linearly from the clean ones to the real ones")
ap.add_argument("--phases", default="",
                help="instead of the phases above: VIEW/TOKENS:STEPS,... with VIEW glimpse|full (12 tokens or all 64) "
                     "and TOKENS clean|blend|real, e.g. glimpse/clean:1000,full/clean:500,full/blend:1500,full/real:1000")
a = ap.parse_args()
torch.set_num_threads(a.threads); set_seed(0)
vlm = VLM.from_pretrained(a.tagged, dtype="float32")
corpus = datasets.load_from_disk(str(Path(a.tagged, "corpus")))
maps = pickle.load(open(Path(a.tagged, "maps.pkl"), "rb"))
count = 140
proj = vlm.model.model.multi_modal_projector
with torch.no_grad():
    proj.linear_1.weight[:count] *= a.sharpen; proj.linear_1.bias[:count] *= a.sharpen
side = 8
with torch.no_grad():
    E = vlm.model.get_input_embeddings().weight
    if a.bias == "image": proj.linear_2.bias.copy_(E[vlm.model.config.image_token_id])
    if a.bias == "image4": proj.linear_2.bias.copy_(E[vlm.model.config.image_token_id] * 4)
kept = torch.stack([P.glimpse_patches(m, side) for m in maps])
scene = lambda r: int(r["id"].split("/")[1])
pres = corpus.filter(lambda k: k in ("present", "absent"), input_columns="negative_kind")
idx = [int(i.split("/")[1]) for i in pres["id"]]
train = pres.select([i for i, s in enumerate(idx) if s < 5700])
test = list(pres.select([i for i, s in enumerate(idx) if s >= 5700][:600]))
# alignment
labels = torch.stack([P.patch_labels(m, side) for m in maps[5700:5764]])
imgs = corpus.filter(lambda k: k == "list", input_columns="negative_kind").select(range(5700, 5764))["image"]
pv = torch.stack([vlm.processor.image_processor(i, return_tensors="pt")["pixel_values"][0] for i in imgs])
with torch.no_grad():
    toks = torch.stack(list(vlm.model.model.get_image_features(pixel_values=pv).pooler_output))
names = P.name_embeddings(vlm); obj = labels > 0
cos = torch.nn.functional.cosine_similarity(toks[obj], names[labels[obj] - 1], dim=-1)
print("sharpen %.1f: cos to own name mean %.3f median %.3f; token norm object %.2f background %.2f" % (
    a.sharpen, cos.mean(), cos.median(), toks[obj].norm(dim=-1).mean(), toks[~obj].norm(dim=-1).mean()), flush=True)
vision = vlm.model.model.vision_tower; vision.requires_grad_(False)
if a.freeze_projector: proj.requires_grad_(False)
tok = vlm.processor.tokenizer
yes_id = vlm.encode([test[0]], answers=["Yes."])["labels"][0]; yes_id = int(yes_id[yes_id != -100][0])
no_id = vlm.encode([test[0]], answers=["No."])["labels"][0]; no_id = int(no_id[no_id != -100][0])
glimpsing = P._mixing(vlm.model, answer_mean_loss, P._name_token_ids(vlm))  # mix 1: the projector alone

def accuracy(glimpse, clean=False):
    right = yes = 0
    with torch.no_grad():
        for i in range(0, len(test), 50):
            rows = test[i:i + 50]
            b = vlm.encode(rows)
            if clean:
                t, blend.t = blend.t, 0.0
                o = blend(**b, patches=kept[[scene(r) for r in rows]], scenes=torch.tensor([scene(r) for r in rows]))
                blend.t = t
                logits, lab = o["logits"], o["labels"]
            elif glimpse:
                o = glimpsing(**b, patches=kept[[scene(r) for r in rows]])
                logits, lab = o["logits"], o["labels"]
            else:
                lab = b.pop("labels"); logits = vlm.model(**b).logits
            first = (lab != -100).float().argmax(1) - 1
            l = logits[torch.arange(len(rows)), first]
            said = l[:, yes_id] > l[:, no_id]
            truth = torch.tensor([r["answer"].startswith("Yes") for r in rows])
            right += int((said == truth).sum()); yes += int(said.sum())
    return right / len(test), yes / len(test)

if a.auc:
    import re
    import numpy as np
    from data_builders.catalogue import OBJECTS
    from pebench.metrics.auc import auc
    lists = corpus.filter(lambda k: k == "list", input_columns="negative_kind").select(range(5700, 5900))
    pv = torch.stack([vlm.processor.image_processor(i, return_tensors="pt")["pixel_values"][0] for i in lists["image"]])
    with torch.no_grad():
        toks = torch.stack(list(vlm.model.model.get_image_features(pixel_values=pv).pooler_output))  # 200,64,d
    names_n = torch.nn.functional.normalize(P.name_embeddings(vlm), dim=-1)
    kept = torch.stack([P.glimpse_patches(m, 8) for m in maps[5700:5900]])
    glimpse = toks.gather(1, kept[..., None].expand(-1, -1, toks.shape[-1]))
    pres = corpus.filter(lambda k: k in ("present", "absent"), input_columns="negative_kind")
    rows = [r for r in pres.remove_columns("image") if 5700 <= int(r["id"].split("/")[1]) < 5900]
    def asked(q):
        for o in sorted(OBJECTS, key=len, reverse=True):
            if re.search(r"\b" + re.escape(o) + r"\b", q): return OBJECTS.index(o)
    for label, t in (("glimpse", glimpse), ("whole image", toks)):
        for score_kind in ("max cos", "max dot"):
            pos, neg = [], []
            for r in rows:
                s = int(r["id"].split("/")[1]) - 5700; k = asked(r["question"])
                tt = t[s]
                v = (torch.nn.functional.normalize(tt, dim=-1) @ names_n[k]).max() if score_kind == "max cos" else (tt @ names_n[k]).max()
                (pos if r["answer"].startswith("Yes") else neg).append(float(v))
            print(label, score_kind, "AUC %.3f" % auc(np.array(neg), np.array(pos)), len(pos), len(neg))
    raise SystemExit(0)
print("before: glimpse acc %.3f yes %.3f | full acc %.3f yes %.3f" % (*accuracy(True), *accuracy(False)), flush=True)
name_ids = [tok(" " + o, add_special_tokens=False)["input_ids"] for o in __import__("data_builders.catalogue", fromlist=["x"]).OBJECTS]
every = torch.arange(side * side).expand(len(maps), -1)
plabels = torch.stack([P.patch_labels(m, side) for m in maps])  # each patch's label (0 = nothing)
class Blend(torch.nn.Module):
    """Glimpses whose tokens are (1 - t) x the names' embeddings of the glimpse patches' labels + t x the real ones."""
    def __init__(s): super().__init__(); s.model = vlm.model; s.t = 0.0
    def forward(s, input_ids, attention_mask, pixel_values, labels, patches, scenes):
        emb = s.model.get_input_embeddings()
        table = torch.cat([torch.zeros(1, emb.weight.shape[1]), torch.stack([emb.weight[i].mean(0) for i in name_ids])])
        seen = table[plabels[scenes].gather(1, patches)]
        if s.t > 0:
            real = P._image_tokens(s.model, pixel_values)
            seen = (1 - s.t) * seen + s.t * real.gather(1, patches[..., None].expand(-1, -1, real.shape[-1]))
        image = input_ids == s.model.config.image_token_id
        start, length = int(image[0].nonzero()[0]), int(image[0].sum())
        cut = lambda x, mid: torch.cat([x[:, :start], mid, x[:, start + length:]], 1)
        e = cut(emb(input_ids), seen); m = cut(attention_mask, attention_mask.new_ones(seen.shape[:2]))
        l = cut(labels, labels.new_full(seen.shape[:2], -100))
        logits = s.model(inputs_embeds=e, attention_mask=m).logits
        return {"loss": answer_mean_loss(logits, l), "logits": logits, "labels": l}
blend = Blend()
phases = [(f"{v}/{k}", v, k, int(n)) for v, k, n in (p.replace(":", "/").split("/") for p in a.phases.split(","))] \
    if a.phases else [("oracle", "glimpse", "clean", a.oracle), ("blend", "glimpse", "blend", a.blend),
                      ("glimpse", "glimpse", "real", a.glimpse), ("full", "full", "real", a.full)]
def phase_collate(view):
    def collate(batch):
        e = vlm.encode(batch); s = [scene(r) for r in batch]
        e["patches"] = (kept if view == "glimpse" else every)[s]; e["scenes"] = torch.tensor(s); return e
    return collate
t0 = time.time()
for name, view, tokens, steps in phases:
    if not steps: continue
    blend.t = {"clean": 0.0, "blend": 0.0, "real": 1.0}[tokens]
    args = trainer_arguments(Path(a.tagged).parent / ".glimpse_stage.work", 0, False, max_steps=steps, per_device_train_batch_size=32,
                             learning_rate=a.lr, warmup_steps=0.03, lr_scheduler_type="cosine", save_strategy="no",
                             logging_steps=100, weight_decay=0.0)
    class Cb(__import__("transformers").TrainerCallback):
        def on_step_begin(s, args, state, control, **k):
            if tokens == "blend": blend.t = state.global_step / steps
        def on_step_end(s, args, state, control, **k):
            if state.global_step % 250 == 0:
                t = blend.t; blend.eval(); print(f"{name} step {state.global_step} t={time.time()-t0:.0f}s glimpse acc %.3f yes %.3f | full acc %.3f yes %.3f | clean acc %.3f yes %.3f" % (*accuracy(True), *accuracy(False), *accuracy(True, clean=True)), flush=True); blend.train(); blend.t = t
    Trainer(model=blend, args=args, train_dataset=train, data_collator=phase_collate(view), callbacks=[Cb()]).train()
