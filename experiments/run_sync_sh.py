"""Tune an objective with synchronous successive halving (the baseline ASHA is compared with).

    python experiments/run_sync_sh.py --workers 2 --max-wallclock-time 90
    python experiments/run_sync_sh.py --smoke --max-wallclock-time 20
    python experiments/run_sync_sh.py --brackets 3          # synchronous Hyperband

Same flags as run_asha.py; the scheduler is experiments/sync_sh.py.
"""

from experiments.launcher import main

if __name__ == "__main__":
    main("sync_sh", __doc__.split("\n\n")[0])
