"""Tune an objective with asynchronous successive halving (Syne Tune's ASHA) or its relatives.

    python experiments/run_asha.py --workers 2                       # LeNet on FashionMNIST, 12 min
    python experiments/run_asha.py --workers 2 --max-wallclock-time 90
    python experiments/run_asha.py --max-results 200                 # until 200 epochs are trained
    python experiments/run_asha.py --method bohb                     # ASHA with a model-based searcher
    python experiments/run_asha.py --method optuna_tpe_hyperband     # Optuna's TPE + Hyperband pruner
    python experiments/run_asha.py --smoke --max-wallclock-time 20   # synthetic data

Then: python -m analysis.summarize latest; python -m analysis.plot_learning_curves latest
"""

from experiments.schedulers import ASYNC_METHODS, MAIN_JOB
from experiments.tuning.launch import launch

if __name__ == "__main__":
    launch(ASYNC_METHODS, __doc__.split("\n\n")[0], defaults=MAIN_JOB)
