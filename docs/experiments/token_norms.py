"""How much of a release image does a base's projector write? (Why fine-tuning from the names base misses faces.)

    python docs/experiments/token_norms.py BASE [BASE ...]

On 20 retain_train images of runs/demo/data (person_forget05): the median norm of the projected image tokens,
the share of tokens with norm < 0.2 (the names' own embeddings have norm ~0.28, so these write ~nothing),
and the mean cosine between two images' whole token sequences. Results: docs/experiments/world_binding.log.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch, datasets
from pebench import data
from pebench.adapter import VLM
from data_builders.pretrain import _image_tokens
torch.set_num_threads(1)
rows = data.load_split("runs/demo/data", "person_forget05", "retain_train")
imgs = [r["image"] for r in rows.select(range(0, 400, 20))]
for base in sys.argv[1:]:
    vlm = VLM.from_pretrained(base, dtype="float32")
    pv = torch.stack([vlm.processor.image_processor(i, return_tensors="pt")["pixel_values"][0] for i in imgs])
    with torch.no_grad():
        t = _image_tokens(vlm.model, pv)
    n = t.norm(dim=-1)
    flat = t.flatten(1)
    cos = torch.nn.functional.cosine_similarity(flat[:, None], flat[None], dim=-1)
    off = cos[~torch.eye(len(imgs), dtype=bool)]
    print(base, "token norm median %.2f, tokens with norm < 0.2: %.0f %%, images' token sequences mean cosine %.3f"
          % (n.median(), 100 * (n < 0.2).float().mean(), off.mean()))
