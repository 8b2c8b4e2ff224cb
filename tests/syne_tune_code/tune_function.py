"""A tune function in the form of Syne Tune's ASHA tutorial (PythonBackend): the config space's
entries as keyword arguments, everything it uses imported in its body, a Reporter of its own."""


def tutorial_objective(width, height, max_epochs):
    import time

    from syne_tune import Reporter

    report = Reporter()
    for epoch in range(1, max_epochs + 1):
        time.sleep(0.02)
        loss = (width - 0.3) ** 2 + 0.01 * (height - 7) ** 2 + 1.0 / epoch
        report(epoch=epoch, mean_loss=loss)


def with_checkpoints(width, height, max_epochs, st_checkpoint_dir):
    """The same, resuming from the checkpoint folder it asks for by name."""
    import json
    from pathlib import Path

    from syne_tune import Reporter

    report = Reporter()
    checkpoint = Path(st_checkpoint_dir) / "checkpoint.json"
    first = json.loads(checkpoint.read_text())["epoch"] + 1 if checkpoint.exists() else 1
    for epoch in range(first, max_epochs + 1):
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text(json.dumps({"epoch": epoch}))
        report(epoch=epoch, mean_loss=(width - 0.3) ** 2 + 0.01 * (height - 7) ** 2 + 1.0 / epoch)


def wrong_arguments(width, depth, max_epochs):
    """Takes `depth`, which the tutorial config space does not have."""
