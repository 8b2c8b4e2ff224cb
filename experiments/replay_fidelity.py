"""How faithfully does the simulated replay reproduce real runs?

    python experiments/replay_fidelity.py COMPARISON         # a real comparison, --search-space recorded
    python experiments/replay_fidelity.py latest --json

For the trials of the real runs whose configurations are in the recorded table (all of them
when the runs used `--search-space recorded`), compares real and recorded learning curves
(analysis.fidelity). Then replays the same comparison (methods, seeds, workers, limits) in
simulation over the recorded configurations and reports whether simulated and real runs rank
the methods the same way. Also says how well the surrogate that serves the full search space
predicts recorded curves left out of its fit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

from analysis import experiment_folder as folder
from analysis.comparison import compare, load_runs, resolve_comparison
from analysis.experiments import ExperimentNotFound
from analysis.fidelity import curve_fidelity, curve_pairs, rankings_agree
from analysis.tables import json_number
from experiments.backends.simulated import recorded_table
from experiments.tuning import flags
from experiments.tuning.comparison import ComparisonRequest, plan_comparison, run_comparison
from experiments.tuning.plan import RunRequest
from objectives.usage import run_command


def replay(runs, results_dir: Path) -> str:
    """Replay the real comparison's settings in simulation; return the new comparison's name."""
    first = runs[0].metadata
    settings = first.get(folder.SCHEDULER_SETTINGS) or first[folder.REQUEST]  # older experiments: the request
    seeds = sorted({r.seed for r in runs})
    name = f"replay-{first[folder.COMPARISON]}"[:60]
    comparison = plan_comparison(ComparisonRequest(
        run=RunRequest(objective=first[folder.OBJECTIVE], backend="simulated", search_space="recorded",
                       seed=seeds[0], workers=int(first[folder.N_WORKERS]),
                       budget_s=first.get(folder.BUDGET_S), max_results=first.get(folder.MAX_RESULTS),
                       max_trials=first.get(folder.MAX_TRIALS), max_resource=folder.max_resource_of(first),
                       grace_period=int(settings["grace_period"]),
                       reduction_factor=int(settings["reduction_factor"]), results_dir=results_dir),
        methods=tuple(sorted({r.method for r in runs})), seeds=len(seeds), name=name))
    with contextlib.redirect_stdout(io.StringIO()):
        run_comparison(comparison)
    return name


def surrogate_quality(objective_name: str, table, table_metadata: dict) -> dict:
    """How well the surrogate that serves the full search space in simulation predicts
    recorded configurations left out of its fit (leave one out)."""
    from experiments.backends.surrogate import held_out_quality
    from objectives import load_objective
    from objectives.tables import recorded_configurations

    return held_out_quality(table, recorded_configurations(objective_name), load_objective(objective_name).search_space,
                            int(table_metadata["max_epochs"]))


def fidelity(spec: str, results_dir: Path | None = None) -> dict:
    name = resolve_comparison(spec, results_dir)
    runs = [r for r in load_runs(name, results_dir) if not r.metadata.get(folder.SIMULATED)]
    if not runs:
        raise ExperimentNotFound(f"comparison {name} has no real runs to check against")
    objective = runs[0].metadata[folder.OBJECTIVE]
    table, table_metadata = recorded_table(objective)
    report = {"comparison": name, "curves": curve_fidelity(curve_pairs(runs, table)),
              "surrogate_held_out": surrogate_quality(objective, table, table_metadata)}
    real = compare(name, results_dir)
    with tempfile.TemporaryDirectory() as tmp:
        simulated_name = replay(runs, Path(tmp))
        # the same target error for both, so times to target are comparable
        simulated = compare(simulated_name, Path(tmp), real.target)
    report["ranking"] = {}
    for field, real_entries in real.ranking.items():
        # as JSON: the report is printed as one JSON object
        real_ranking = [entry.to_json() for entry in real_entries]
        simulated_ranking = [entry.to_json() for entry in simulated.ranking[field]]
        report["ranking"][field] = {
            "real": real_ranking, "simulated": simulated_ranking,
            "agreement": rankings_agree(real_ranking, simulated_ranking),
            "real_values": {m: json_number(e.summary[field].value) for m, e in real.methods.items()},
            "simulated_values": {m: json_number(e.summary[field].value) for m, e in simulated.methods.items()},
        }
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comparison", help="a real comparison: name, unique prefix, or 'latest'")
    flags.add_results_flags(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    report = run_command(lambda: fidelity(args.comparison, args.results_dir))
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"Replay fidelity for {report['comparison']}")
    for key, value in report["curves"].items():
        print(f"  {key:<34} {value}")
    print("  the surrogate on recorded configurations left out of its fit (simulation of the full space):")
    for key, value in report["surrogate_held_out"].items():
        print(f"    {key:<32} {value}")
    for field, entry in report["ranking"].items():
        def order(ranking):
            return " > ".join(e["method"] + ("" if i == 0 or e["separated_from_leader"] else " (undecided)")
                              for i, e in enumerate(ranking))

        print(f"  ranking by {field}: real {order(entry['real'])}; simulated "
              f"{order(entry['simulated'])} -> {entry['agreement']}")


if __name__ == "__main__":
    main()
