"""Language-model stages of `pebench pretrain` tried on a tagged model (from `tag_names.py`).

    python docs/experiments/glimpse_stage.py TAGGED [--glimpse 1000] [--full 0] [--oracle 0] [--lr 3e-4]
        [--sharpen 1] [--bias none|image|image4] [--freeze-projector] [--threads 1]

Trains presence questions of scenes 0-5699 for `--oracle` steps on clean glimpses (the names' own embeddings
of the scene's objects), then `--glimpse` steps on real glimpses (the projector's token at each object's
best patch, `pretrain.glimpse_patches`), then `--full` steps on whole images (batch 32, cosine lr), and
every 250 steps prints the accuracy and yes-ratio on 600 presence questions about scenes 5700+ (never
tagged or trained on), with glimpses and with whole images. `--sharpen A` multiplies the tagging channels
of the projector's hidden layer by A; `--bias` sets the projector's output bias to the `<image>` token's
embedding (x1 or x4) so that empty patches are not ~0 vectors. First line: the tokens' cosine to their
object's name embedding. Results: docs/experiments/world_binding.log.
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
glimpsing = P._glimpsing(vlm.model, answer_mean_loss)

def accuracy(glimpse):
    right = yes = 0
    with torch.no_grad():
        for i in range(0, len(test), 50):
            rows = test[i:i + 50]
            b = vlm.encode(rows)
            if glimpse:
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
def collate(batch):
    e = vlm.encode(batch); e["patches"] = kept[[scene(r) for r in batch]]; return e
class Full(torch.nn.Module):
    def __init__(s): super().__init__(); s.model = vlm.model
    def forward(s, labels, **b): return {"loss": answer_mean_loss(s.model(**b).logits, labels)}
import numpy as np
objs = torch.zeros(len(maps), 12, dtype=torch.long)
for i, m in enumerate(maps):
    u = [int(k) for k in np.unique(m) if k > 0][:12]
    objs[i, :len(u)] = torch.tensor(u)
name_ids = [tok(" " + o, add_special_tokens=False)["input_ids"] for o in __import__("data_builders.catalogue", fromlist=["x"]).OBJECTS]
class Oracle(torch.nn.Module):
    def __init__(s): super().__init__(); s.model = vlm.model
    def forward(s, input_ids, attention_mask, pixel_values, labels, patches, scenes):
        emb = s.model.get_input_embeddings()
        table = torch.cat([torch.zeros(1, emb.weight.shape[1]), torch.stack([emb.weight[i].mean(0) for i in name_ids])])
        image = input_ids == s.model.config.image_token_id
        start, length = int(image[0].nonzero()[0]), int(image[0].sum())
        seen = table[objs[scenes]]
        cut = lambda x, mid: torch.cat([x[:, :start], mid, x[:, start + length:]], 1)
        e = cut(emb(input_ids), seen); m = cut(attention_mask, attention_mask.new_ones(seen.shape[:2]))
        l = cut(labels, labels.new_full(seen.shape[:2], -100))
        return {"loss": answer_mean_loss(s.model(inputs_embeds=e, attention_mask=m).logits, l)}
def ocollate(batch):
    e = collate(batch); e["scenes"] = torch.tensor([scene(r) for r in batch]); return e
t0 = time.time()
for name, steps, model, coll in (("oracle", a.oracle, Oracle(), ocollate), ("glimpse", a.glimpse, glimpsing, collate), ("full", a.full, Full(), vlm.encode)):
    if not steps: continue
    args = trainer_arguments(Path(a.tagged).parent / ".glimpse_stage.work", 0, False, max_steps=steps, per_device_train_batch_size=32,
                             learning_rate=a.lr, warmup_steps=0.03, lr_scheduler_type="cosine", save_strategy="no",
                             logging_steps=100, weight_decay=0.0)
    class Cb(__import__("transformers").TrainerCallback):
        def on_step_end(s, args, state, control, **k):
            if state.global_step % 250 == 0:
                model.eval(); print(f"{name} step {state.global_step} t={time.time()-t0:.0f}s glimpse acc %.3f yes %.3f | full acc %.3f yes %.3f" % (*accuracy(True), *accuracy(False)), flush=True); model.train()
    Trainer(model=model, args=args, train_dataset=train, data_collator=coll, callbacks=[Cb()]).train()
