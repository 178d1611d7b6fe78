"""Does the `small` ViT learn which catalogue objects a scene shows? Validation AUC of an object tagger.

python benchmarks/tagging_auc.py SCENES BATCH LR POOL SECONDS   (POOL: cls | avg | max)
Prints, every 100 steps, the train / validation BCE and the validation AUC ("recall" column) over every
(scene, object) pair of the held-out 10 % of scenes. docs/experiments/pretrain_tagging.log holds the runs
the README's *Known limits* cites.
"""
import sys, time, torch
torch.set_num_threads(2)
from data_builders.scenes import scene_rows
from data_builders.pretrain import _listed, _tagger
from data_builders.catalogue import OBJECTS
from pebench import tiny
from pebench.adapter import VLM
POOL = sys.argv[4]
n, bs, lr, pool = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rows = [r for r in scene_rows(n, 64, seed=0) if r["negative_kind"] == "list"]
model, proc = tiny.build(["hello world"], "small", 0)
index = {o: i for i, o in enumerate(OBJECTS)}
import io; from PIL import Image
X = proc.image_processor([Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB") for r in rows], return_tensors="pt")["pixel_values"]
Y = torch.zeros(len(rows), len(OBJECTS))
for i, r in enumerate(rows):
    Y[i, [index[o] for o in _listed(r["answer"])]] = 1
tagger = _tagger(model, len(OBJECTS))
import types
if pool in ("mean", "avg", "cls"):
    import types
    def fwd(self, pixel_values, labels=None):
        if POOL == "cls":
            logits = self.head2(self.model.model.vision_tower(pixel_values=pixel_values).pooler_output)
        else:
            tokens = torch.stack(list(self.model.model.get_image_features(pixel_values=pixel_values).pooler_output))
            logits = self.head(tokens).mean(1) if POOL == "avg" else self.head(tokens).max(1).values
        return {"loss": torch.nn.functional.binary_cross_entropy_with_logits(logits, labels), "logits": logits}
    tagger.forward = types.MethodType(fwd, tagger)
if pool == "cls":
    tagger.head2 = torch.nn.Linear(128, len(OBJECTS))
    tagger.forward = types.MethodType(fwd, tagger)
opt = torch.optim.AdamW(tagger.parameters(), lr=lr, weight_decay=0.0)
ntr = int(len(rows) * 0.9)
t = time.time(); step = 0
for epoch in range(100):
    perm = torch.randperm(ntr)
    for s in range(0, ntr, bs):
        idx = perm[s:s+bs]
        out = tagger(X[idx], Y[idx]); opt.zero_grad(); out["loss"].backward(); opt.step(); step += 1
        if step % 100 == 0:
            with torch.no_grad():
                o = tagger(X[ntr:], Y[ntr:])
                pred = o["logits"]
                # presence accuracy: for each val image, one present & one random absent
                acc = ((pred > 0) == (Y[ntr:] > 0)).float()
                from scipy.stats import mannwhitneyu
                yv = Y[ntr:].flatten().numpy(); pv = pred.flatten().numpy()
                u = mannwhitneyu(pv[yv > 0], pv[yv == 0]).statistic
                pos = u / ((yv > 0).sum() * (yv == 0).sum()); neg = 0.0
            print(f"step {step} t={time.time()-t:.0f}s train {out['loss'].item():.4f} val {o['loss'].item():.4f} recall {pos:.3f} specificity {neg:.3f}", flush=True)
        if time.time() - t > float(sys.argv[5]): sys.exit()
