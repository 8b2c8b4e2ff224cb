"""A fast toy objective with injectable faults, for reliability and load tests.

`toy_trial` reports `epoch` and `validation_error` = x + 1/epoch (clipped to [0, 1]) for
`max_epochs` epochs, resuming from its checkpoint. Faults, chosen per configuration:
crash_at (raise at that epoch), hang_at (sleep for an hour), nan_at (report NaN there),
slow_start (seconds to sleep before the first epoch), epoch_s (seconds per epoch).
Written for PythonBackend's rules: no globals, imports inside, no default values.
"""


def toy_trial(x, max_epochs, crash_at, hang_at, nan_at, slow_start, epoch_s, st_checkpoint_dir):
    import json
    import time
    from pathlib import Path

    from syne_tune import Reporter

    report = Reporter()
    checkpoint = Path(st_checkpoint_dir) / "toy.json"
    first = json.loads(checkpoint.read_text())["epoch"] + 1 if checkpoint.exists() else 1
    time.sleep(slow_start)
    for epoch in range(first, max_epochs + 1):
        time.sleep(epoch_s)
        if epoch == crash_at:
            raise RuntimeError(f"injected crash at epoch {epoch}")
        if epoch == hang_at:
            time.sleep(3600)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text(json.dumps({"epoch": epoch}))
        value = float("nan") if epoch == nan_at else min(1.0, max(0.0, x + 1.0 / epoch))
        report(epoch=epoch, validation_error=value)
