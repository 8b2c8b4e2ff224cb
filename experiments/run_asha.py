"""Tune an objective with Syne Tune's ASHA (asynchronous successive halving).

    python experiments/run_asha.py --workers 2                       # LeNet on FashionMNIST, 12 min
    python experiments/run_asha.py --workers 2 --max-wallclock-time 90
    python experiments/run_asha.py --smoke --max-wallclock-time 20   # synthetic data

Then: python -m analysis.summarize latest; python -m analysis.plot_learning_curves latest
"""

from experiments.launcher import main

if __name__ == "__main__":
    main("asha", __doc__.split("\n\n")[0])
