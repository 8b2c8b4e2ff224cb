"""Find an objective's data set, decode it once and cache it; print where the cache is.

    python -m objectives.prepare_data fashion_mnist_lenet [--data-dir DIR]
"""

import argparse

from objectives import BUILTIN_OBJECTIVES, load_objective
from objectives.usage import UsageError, run_command


def prepare(objective_spec: str, data_dir: str | None) -> str:
    objective = load_objective(objective_spec)
    if objective.prepare_data is None:
        raise UsageError(f"objective {objective.name} takes no data set: nothing to prepare")
    return objective.prepare_data(data_dir, False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("objective", help=f"{', '.join(BUILTIN_OBJECTIVES)}, or module:attribute")
    parser.add_argument("--data-dir", default=None, help="where the data set is (see docs/reference.md, Data)")
    args = parser.parse_args(argv)
    path = run_command(lambda: prepare(args.objective, args.data_dir))
    print(f"{args.objective}: data cached at {path}")


if __name__ == "__main__":
    main()
