"""Find an objective's data set, decode it once and cache it; print where the cache is.

    python -m objectives.prepare_data fashion_mnist_lenet [--data-dir DIR]
"""

import argparse
import sys

from objectives import OBJECTIVES, load_objective
from objectives.data import DataNotFoundError


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("objective", choices=sorted(OBJECTIVES))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    try:
        path = load_objective(args.objective).prepare_data(args.data_dir)
    except DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{args.objective}: data cached at {path}")


if __name__ == "__main__":
    main()
