"""An example board from *synthetic* predictions: shows and tests the pipeline without trained models.

Each synthetic entry answers every scored row of a dataset with its reference answer, except the rows it
is told to get wrong ("I cannot say."); `pebench.results.recompute` then derives every number from those
records exactly as for a real evaluation. These are not unlearning results; they exist to exercise the
board (the README screenshot comes from here).

    python leaderboard/example.py --out /tmp/example-board [--screenshot docs/leaderboard.png]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REFUSAL = "I cannot say."
# name, method, forget rows answered wrong, every n-th retain row wrong (0: none), scope/world wrong too
ENTRIES = (
    ("Synthetic: forgets, keeps all", "synthetic-goal", True, 0, False),
    ("Synthetic: forgets, loses a third of retain", "synthetic-a", True, 3, False),
    ("Synthetic: forgets, loses half of retain, some scope", "synthetic-b", True, 2, True),
    ("Synthetic: forgets nothing", "synthetic-finetuned", False, 0, False),
)


def synthetic_result(data_dir, config, method, forgets, wrong_every=0, hurts_other=False, references=None):
    """A recomputed result from fixed predictions on every scored row of `config` (see module doc),
    scored against `references` ({"goal": result, "finetuned": result}) when given."""
    from pebench import data, results
    from pebench.evaluation import record_plan
    from pebench.schema import FORGET_CONFIGS, source_of

    records = []
    generated = [split for split, fields in record_plan(config).items() if "prediction" in fields]
    for split in generated:
        rows = sorted(data.load_rows(data_dir, *source_of(config, split)), key=lambda r: r["id"])
        for i, row in enumerate(rows):  # by id: the order a split loads in is not part of the contract
            wrong = (forgets and split.startswith("forget")) or (hurts_other and split in ("scope", "world")
                                                                  and i % 4 == 1)
            wrong = wrong or (split == "retain_test" and wrong_every and i % wrong_every == 1)
            records.append({"id": row["id"], "split": split, "task": row["task"],
                            "prediction": REFUSAL if wrong else row["answer"]})
    result = {"schema_version": results.SCHEMA_VERSION, "pebench_version": "0.1.0",
              "model": {"id": f"synthetic/{method}", "method": method, "hparams": {}, "seed": 0},
              "dataset": {"config": config, "target": FORGET_CONFIGS[config][0],
                          "fingerprint": data.fingerprint(data_dir), "seed": 0},
              "eval": {"seed": 0, "judge": "keyword_rouge", "bootstrap": 200, "max_new_tokens": 48},
              "versions": {}, "records": records, "reference": {}, "aggregates": {}, "ci95": {}, "normalized": {}}
    return results.recompute(results.with_references(result, references or {}), data_dir)


def references(data_dir, config):
    """Synthetic fine-tuned (answers everything) and goal (forgets the targets) results."""
    return {"finetuned": synthetic_result(data_dir, config, "finetuned", False),
            "goal": synthetic_result(data_dir, config, "goal", True)}


def write_references(refs, folder):
    """The reference results as the board reads them (`pebench leaderboard --references FOLDER`)."""
    from pebench.io import atomic_write_json

    for side, result in refs.items():
        atomic_write_json(Path(folder) / f"{result['dataset']['config']}-{side}.json", result)
    return Path(folder)


def make_example(out, data_dir=None, config="person_forget05"):
    """Build a small dataset (unless given), submit the synthetic entries and build the board in `out`."""
    from leaderboard.build import build_board
    from leaderboard.submit import submit
    from pebench.io import atomic_write_json

    work = Path(tempfile.mkdtemp(prefix="pebench-example-"))
    try:
        if data_dir is None:
            import data_builders

            data_dir = data_builders.build(work / "data", people=12, events=6, variants=2, seed=0)
        refs = references(data_dir, config)
        for name, method, forgets, every, hurts in ENTRIES:
            path = work / f"{method}.json"
            atomic_write_json(path, synthetic_result(data_dir, config, method, forgets, every, hurts, refs))
            submit(path, name, work / "submissions", notes="synthetic predictions, not a trained model")
        return build_board(work / "submissions", data_dir, out, overwrite=True,
                           references=write_references(refs, work / "references"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def screenshot(page, png, size="1200,760"):
    """A PNG of `page` taken by headless Chromium (flags that work in a root container)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (make browser)")
    profile = tempfile.mkdtemp(prefix="pebench-chromium-")
    try:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={size}",
                        f"--screenshot={Path(png).resolve()}", Path(page).resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _quiet():
    import datasets

    datasets.disable_progress_bars()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="board output folder (replaced)")
    parser.add_argument("--data", default=None, help="dataset folder (default: build a 12x6 one)")
    parser.add_argument("--screenshot", default=None, help="also save a PNG of index.html here")
    args = parser.parse_args(argv)
    _quiet()
    board = make_example(args.out, args.data)
    print(f"{board['counts']['verified']} verified, {board['counts']['refused']} refused -> {args.out}")
    if args.screenshot:
        screenshot(Path(args.out) / "index.html", args.screenshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
