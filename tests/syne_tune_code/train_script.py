"""A training script in the form of Syne Tune's examples, for the tests of tuning Syne Tune code
as it is: argparse flags named after the config space's entries, a max-resource flag (`--steps`),
`--st_checkpoint_dir` with resume from a checkpoint file, and `syne_tune.Reporter`.

Its "training" is arithmetic: the loss falls with each epoch towards a floor set by the
hyperparameters (best near width 0.3, height 7). Each epoch it trains is appended to
`trained.txt` in its checkpoint folder, so that a test can see that no epoch is trained twice.
Constants of the config space steer what the tests need: `fail_at` (exit 1 at that epoch),
`ignore_steps` (train to 8 epochs whatever --steps says).
"""

import argparse
import json
import sys
import time
from pathlib import Path

from syne_tune import Reporter

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=float, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--fail_at", type=int, default=0)
    parser.add_argument("--ignore_steps", type=int, default=0)
    parser.add_argument("--st_checkpoint_dir", type=str, default=None)
    args, _ = parser.parse_known_args()

    report = Reporter()
    folder = Path(args.st_checkpoint_dir) if args.st_checkpoint_dir else None
    checkpoint = folder / "checkpoint.json" if folder else None
    first = json.loads(checkpoint.read_text())["epoch"] + 1 if checkpoint and checkpoint.exists() else 1
    last = 8 if args.ignore_steps else args.steps
    for epoch in range(first, last + 1):
        time.sleep(0.02)
        if epoch == args.fail_at:
            print(f"loss diverged at epoch {epoch}", file=sys.stderr)
            sys.exit(1)
        floor = (args.width - 0.3) ** 2 + 0.01 * (args.height - 7) ** 2
        loss = floor + 1.0 / epoch
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
            checkpoint.write_text(json.dumps({"epoch": epoch}))
            with open(folder / "trained.txt", "a") as trained:
                trained.write(f"{epoch}\n")
        print(f"epoch {epoch}: loss {loss:.4f}")
        report(epoch=epoch, mean_loss=loss)
