"""Tune methods' tiny-model defaults on training-side validation rows only; write the grid to a CSV.

Example: python -m baselines.tune --run runs/demo --methods po,dpo,siu --grid lr=1e-4,3e-4,1e-3 --grid epochs=5,10

For every method x setting: `pebench unlearn` from RUN's fine-tuned model on a person config, then greedy
name precision on forget_val (the forget_train rows being unlearned) and retain_val (other people's
retain_train rows held out of the unlearning's retain stream; `pebench.unlearning.validation_rows`).
No test split is read. Rule: among settings with validation efficacy >= 80 (forget_val precision <= 20 %),
the one that keeps the most retain_val precision; ties go to the smaller budget, then the smaller lr.
The chosen values go into `baselines/configs/<method>.yaml` by hand, with the grid and rule in its header.
"""
import argparse
import csv
import itertools
import sys
import tempfile
from pathlib import Path


def validation_precision(model_dir, data_dir, config, size=32):
    """Name precision (%) on forget_val and retain_val person rows of a model."""
    from pebench.adapter import VLM
    from pebench.metrics.name_precision import name_precision
    from pebench.unlearning import validation_rows

    probes, _ = validation_rows(data_dir, config, size)
    vlm = VLM.from_pretrained(str(model_dir))
    scores = {}
    for name, rows in probes.items():
        rows = [r for r in rows if r["task"] == "person_name"]
        predictions = vlm.generate(rows, max_new_tokens=24, batch_size=32)
        hits = name_precision(predictions, [r["person_name"] for r in rows])
        scores[name] = 100.0 * sum(hits) / max(1, len(hits))
    return scores


def chosen(rows):
    """The rule above; None when no setting reaches validation efficacy 80."""
    ok = [r for r in rows if r["forget_val"] <= 20.0]
    return max(ok, key=lambda r: (r["retain_val"], -float(r["epochs"]), -float(r["lr"]))) if ok else None


def main(argv=None):
    from pebench.unlearning import unlearn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a `pebench demo` run folder (data/, models/finetuned)")
    parser.add_argument("--config", default="person_forget05")
    parser.add_argument("--methods", required=True)
    parser.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2")
    parser.add_argument("--out", default="baselines/tuning/demo.csv")
    args = parser.parse_args(argv)
    run, grid = Path(args.run), dict(g.split("=", 1) for g in args.grid)
    keys = sorted(grid)
    data, finetuned = run / "data", run / "models" / "finetuned"
    base = validation_precision(finetuned, data, args.config)
    print(f"fine-tuned: {base}", file=sys.stderr)
    rows = []
    for method in args.methods.split(","):
        for values in itertools.product(*(grid[k].split(",") for k in keys)):
            setting = {k: float(v) for k, v in zip(keys, values)}
            with tempfile.TemporaryDirectory() as tmp:
                card = unlearn(data, args.config, finetuned, method, Path(tmp, "m"), overrides=setting)
                scores = validation_precision(Path(tmp, "m"), data, args.config)
            rows.append({"method": method, **{k: values[i] for i, k in enumerate(keys)}, "steps": card["steps"],
                         "retain_tasks": card["training"]["retain_tasks"],
                         **scores, "finetuned_forget_val": base["forget_val"],
                         "finetuned_retain_val": base["retain_val"]})
            print(rows[-1], file=sys.stderr, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for method in args.methods.split(","):
        print(method, chosen([r for r in rows if r["method"] == method]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
