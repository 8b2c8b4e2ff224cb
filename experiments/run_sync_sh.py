"""Tune an objective with synchronous successive halving or synchronous Hyperband.

    python experiments/run_sync_sh.py --workers 2 --max-wallclock-time 90
    python experiments/run_sync_sh.py --method sync_sh_waiting       # the textbook variant
    python experiments/run_sync_sh.py --method sync_bohb             # Hyperband with KDE
    python experiments/run_sync_sh.py --method smac_hyperband        # SMAC3's multi-fidelity facade
    python experiments/run_sync_sh.py --method dehb                  # DEHB: evolution in Hyperband

`sync_sh` is the variant Syne Tune shipped until 0.14 (a free worker starts the next round
instead of waiting); `sync_sh_waiting` waits for each rung to complete.
"""

from experiments.schedulers import SYNC_DEFAULTS, SYNC_METHODS
from experiments.tuning.launch import launch

if __name__ == "__main__":
    launch(SYNC_METHODS, __doc__.split("\n\n")[0], defaults=SYNC_DEFAULTS)
