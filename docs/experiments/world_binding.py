"""Can the `small` language model learn POPE presence at all, given *perfect* image tokens?

    python docs/experiments/world_binding.py --steps 3000 [--lr 3e-4] [--list-steps 1500 [--list-as-text]]
        [--question-first] [--token-scale 50] [--untied | --snapshot] [--noise 1] [--scenes 3000] [--threads 1]

Why: the pretrained base's vision tower tags objects per patch (held-out AUC 0.97) but the base answers
POPE at 58.7 %. This separates the two halves. Image tokens here are one vector per 8x8 patch of the
pretraining corpus's object maps: the LM's own (trainable, tied) embedding of the object's name (mean of
its tokens) where an object covers the patch, else a learned background vector; no vision tower at all.
The `small` Llama decoder (4 layers, width 192, random init, the tokenizer pebench builds for the demo
release) trains on the corpus's presence questions (batch 32, AdamW, one-cycle lr) and is scored on 600
questions about 300 scenes it never saw: accuracy and yes-ratio of "Yes" vs "No" at the answer position.
`--list-steps N` starts with a curriculum: for N steps the image is only the scene's distinct objects (up to
8 tokens, padded with the background vector), then the 64 patch tokens; `--list-as-text` writes that list
out as the names' own tokens ("umbrella, lamp, ...", up to 32), as a text-only warm-up would give it.
`--question-first` puts the question before the image; `--token-scale` multiplies every image token;
`--untied` replaces each name's embedding by a fixed random vector of the same norm, `--snapshot` by a
frozen copy of its value at initialisation (what a vision tower aligned before the LM trains gives);
`--noise R` adds a fresh random vector of R times the token's norm to each (cosine to the clean token
~ 1/sqrt(1+R^2)). Results: docs/experiments/world_binding.log.
Needs runs/demo/data (`make demo`, or `pebench build --people 50 --events 10 --out runs/demo/data`).
"""
import argparse
import sys
import time

import torch

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from data_builders.catalogue import OBJECTS  # noqa: E402
from data_builders.pretrain import patch_labels  # noqa: E402
from data_builders.scenes import scene_corpus  # noqa: E402
from pebench import tiny  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, required=True)
parser.add_argument("--scenes", type=int, default=3000, help="training scenes (300 more are held out)")
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--list-steps", type=int, default=0, help="curriculum: steps on the short object list first")
parser.add_argument("--list-as-text", action="store_true", help="the short list as the names written out")
parser.add_argument("--question-first", action="store_true", help="USER: question <image> ASSISTANT:")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--token-scale", type=float, default=1.0, help="multiply every image token by this")
parser.add_argument("--noise", type=float, default=0.0,
                    help="add a random vector of this many times the token's norm to every image token")
parser.add_argument("--snapshot", action="store_true",
                    help="image tokens: the names' embeddings at initialisation (a frozen copy; the LM's own drift)")
parser.add_argument("--untied", action="store_true",
                    help="image tokens: a fixed random vector per object (norm of an embedding), not its name's embedding")
args = parser.parse_args()
if args.steps < 1 or args.scenes < 1 or not args.lr > 0 or args.list_steps < 0 or args.threads < 1:
    parser.error("--steps, --scenes and --threads must be >= 1, --lr > 0, --list-steps >= 0")
scenes, steps, lr, list_steps, list_as_text = args.scenes, args.steps, args.lr, args.list_steps, args.list_as_text
torch.set_num_threads(args.threads)
LIST = 32 if list_as_text else 8  # tokens of the short image (the longest 8-object list is < 32 tokens)
short = False  # the curriculum's phase: the image as the list of the scene's distinct objects
torch.manual_seed(0)
t0 = time.time()
rows, maps = scene_corpus(scenes + 300, 64, 0)
print(f"rendered {scenes + 300} scenes in {time.time() - t0:.0f}s", flush=True)
labels = torch.stack([patch_labels(m, 8) for m in maps])  # (S, 64), 0 = nothing
pres = [r for r in rows if r["negative_kind"] in ("present", "absent")]
texts = tiny.dataset_texts(ROOT / "runs/demo/data") + [r["question"] for r in rows]
model, processor = tiny.build(texts, "small", 0)
tok = processor.tokenizer
lm = model.model.language_model if hasattr(model.model, "language_model") else model.language_model
head = model.lm_head
emb = lm.embed_tokens
name_ids = [tok(" " + o, add_special_tokens=False)["input_ids"] for o in OBJECTS]
yes, no = tok(" Yes", add_special_tokens=False)["input_ids"][0], tok(" No", add_special_tokens=False)["input_ids"][0]
background = torch.nn.Parameter(torch.zeros(emb.weight.shape[1]))


FIXED = torch.nn.functional.normalize(
    torch.randn(len(OBJECTS), emb.weight.shape[1], generator=torch.Generator().manual_seed(1)), dim=-1)


SNAPSHOT = torch.stack([emb.weight[ids].mean(0) for ids in name_ids]).detach().clone()


def image_tokens(scene_ids):
    tokens = _image_tokens(scene_ids)
    if args.noise:
        tokens = tokens + args.noise * tokens.norm(dim=-1, keepdim=True) * torch.nn.functional.normalize(
            torch.randn(tokens.shape), dim=-1)
    return args.token_scale * tokens


def _image_tokens(scene_ids):
    table = torch.stack([emb.weight[ids].mean(0) for ids in name_ids])  # (139, d), tied to the LM
    if args.snapshot:
        table = SNAPSHOT
    if args.untied:
        table = FIXED * table.detach().norm(dim=-1, keepdim=True)
    table = torch.cat([background[None], table])
    if short:
        listed = torch.zeros(len(scene_ids), 8, dtype=torch.long)
        for row, scene in enumerate(scene_ids.tolist()):
            found = labels[scene].unique()
            found = found[found > 0][torch.randperm(int((found > 0).sum()))][:8]
            listed[row, :len(found)] = found
        if list_as_text:
            return text_list(listed)
        return table[listed]
    return table[labels[scene_ids]]


def text_list(listed):
    """The listed objects as text ("umbrella, lamp, ..."), embedded and right-padded with the background vector."""
    ids = [tok(", ".join(OBJECTS[k - 1] for k in row.tolist() if k), add_special_tokens=False)["input_ids"][:LIST]
           for row in listed]
    out = background[None, None].expand(len(ids), LIST, -1).clone()
    for row, seq in enumerate(ids):
        out[row, :len(seq)] = emb(torch.tensor(seq))
    return out


def batch(items):
    pre = tok("<s>USER:", add_special_tokens=False)["input_ids"]
    seqs, targets, scene_ids = [], [], []
    for r in items:
        q = tok(" " + r["question"] + " ASSISTANT:", add_special_tokens=False)["input_ids"]
        seqs.append(q)
        targets.append(yes if r["answer"].startswith("Yes") else no)
        scene_ids.append(int(r["id"].split("/")[1]))
    width = max(map(len, seqs))
    ids = torch.full((len(items), width), tok.pad_token_id)
    n = LIST if short else 64
    mask = torch.zeros(len(items), len(pre) + n + width, dtype=torch.long)
    last = []
    for i, q in enumerate(seqs):
        ids[i, :len(q)] = torch.tensor(q)
        mask[i, :len(pre) + n + len(q)] = 1
        last.append(len(pre) + n + len(q) - 1)
    prefix = emb(torch.tensor(pre))[None].expand(len(items), -1, -1)
    if not args.question_first:
        x = torch.cat([prefix, image_tokens(torch.tensor(scene_ids)), emb(ids)], 1)
        return x, mask, torch.tensor(last), torch.tensor(targets)
    # question first: USER: question <image> ASSISTANT: (right-aligned so the image is contiguous)
    q_ids = [tok(" " + r["question"], add_special_tokens=False)["input_ids"] for r in items]
    tail = tok(" ASSISTANT:", add_special_tokens=False)["input_ids"]
    qw = max(map(len, q_ids))
    qs = torch.full((len(items), qw), tok.pad_token_id)
    qmask = torch.zeros(len(items), qw, dtype=torch.long)
    for i, q in enumerate(q_ids):
        qs[i, qw - len(q):] = torch.tensor(q)
        qmask[i, qw - len(q):] = 1
    x = torch.cat([prefix, emb(qs), image_tokens(torch.tensor(scene_ids)), emb(torch.tensor(tail))[None].expand(len(items), -1, -1)], 1)
    mask = torch.cat([torch.ones(len(items), len(pre), dtype=torch.long), qmask, torch.ones(len(items), n + len(tail), dtype=torch.long)], 1)
    return x, mask, torch.full((len(items),), x.shape[1] - 1), torch.tensor(targets)


def logits_at(x, mask, last):
    h = lm(inputs_embeds=x, attention_mask=mask).last_hidden_state
    return head(h[torch.arange(len(last)), last])


train = [r for r in pres if int(r["id"].split("/")[1]) < scenes]
test = [r for r in pres if int(r["id"].split("/")[1]) >= scenes][:600]
params = [*lm.parameters(), background]
opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
g = torch.Generator().manual_seed(0)
t0 = time.time()
for step in range(1, steps + 1):
    short = step <= list_steps
    pick = torch.randint(len(train), (32,), generator=g)
    x, mask, last, y = batch([train[i] for i in pick])
    loss = torch.nn.functional.cross_entropy(logits_at(x, mask, last), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if step % 250 == 0 or step == steps or step == list_steps:
        with torch.no_grad():
            x, mask, last, y = batch(test)
            out = logits_at(x, mask, last)
            said_yes = out[:, yes] > out[:, no]
            acc = (said_yes == (y == yes)).float().mean()
        print(f"{'list ' if short else ''}step {step} t={time.time() - t0:.0f}s loss {loss.item():.3f} held-out acc {acc:.3f} "
              f"yes-ratio {said_yes.float().mean():.3f}", flush=True)
