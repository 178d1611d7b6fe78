"""Does a names base fine-tune well once its projector's spare channels may write again? (A quick test, not a fix.)

    python docs/experiments/open_spare_channels.py BASE OUT [--scale 1.0]

Copies BASE (a `--tokens names` base) to OUT with the projector's output columns for the hidden channels that
speak no name (140..width) set to random vectors (seeded; each column's norm = `--scale` x the mean norm of the
name columns), so patches without a catalogue object (faces) are no longer written as ~0, and re-stamps the
card's fingerprint (an experiment's copy, not a pebench base). Then fine-tune and score it as in
docs/experiments/world_binding.log. Label 0 (nothing) stays silent.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from pebench.training import PRETRAIN_CARD, weights_fingerprint  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("base")
parser.add_argument("out")
parser.add_argument("--scale", type=float, default=1.0)
args = parser.parse_args()
shutil.copytree(args.base, args.out, dirs_exist_ok=False)
weights = load_file(str(Path(args.out, "model.safetensors")))
key = next(k for k in weights if k.endswith("multi_modal_projector.linear_2.weight"))
w = weights[key]  # (width, hidden)
names = 140  # label channels 1..139 speak names; 0 is "nothing"
norm = w[:, 1:names].norm(dim=0).mean()
spare = torch.nn.functional.normalize(torch.randn(w.shape[0], w.shape[1] - names,
                                                  generator=torch.Generator().manual_seed(0)), dim=0)
print(f"spare columns before: mean norm {w[:, names:].norm(dim=0).mean():.3f}; name columns {norm:.3f}")
w[:, names:] = args.scale * norm * spare
save_file(weights, str(Path(args.out, "model.safetensors")), metadata={"format": "pt"})
card = json.loads(Path(args.out, PRETRAIN_CARD).read_text())
card["fingerprint"] = weights_fingerprint(args.out)
card["experiment"] = f"open_spare_channels --scale {args.scale}"
Path(args.out, PRETRAIN_CARD).write_text(json.dumps(card, indent=2))
