"""Write one self-contained HTML report of an experiment or a comparison.

    python -m analysis.report latest -o report.html          # the newest experiment
    python -m analysis.report smoke-cmp -o comparison.html   # a comparison, by name
    python -m analysis.report latest --comparison -o comparison.html

The page embeds its figures and styles and loads nothing: open it in any browser, mail it,
archive it.

What WHAT names, in this order:
  1. with --comparison: a comparison (its name, a unique prefix, `latest`, or one of its runs'
     names or folders);
  2. `latest`: the newest experiment;
  3. a comparison's exact name: that comparison;
  4. an experiment (a folder, a name, a unique name prefix); failing that, a comparison whose
     name starts so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.experiments import (
    ExperimentNotFound, add_results_dir_flag, comparison_names, default_results_dir, resolve_comparison,
    resolve_experiment)
from analysis.figure_files import check_output_file
from objectives.files import write_text_atomically
from objectives.usage import run_command


def report_subject(spec: str, results_dir: Path | None = None, comparison: bool = False) -> tuple[str, str]:
    """("comparison", its name) or ("experiment", its folder), by the rule in this module's
    docstring."""
    if comparison:
        return "comparison", resolve_comparison(spec, results_dir)
    if spec != "latest" and spec in comparison_names(Path(results_dir or default_results_dir())):
        return "comparison", spec
    try:
        return "experiment", str(resolve_experiment(spec, results_dir))
    except ExperimentNotFound as not_an_experiment:
        if spec == "latest":
            raise
        try:
            return "comparison", resolve_comparison(spec, results_dir)
        except ExperimentNotFound:
            raise not_an_experiment from None


def write_report(spec: str, output: Path, results_dir: Path | None = None, comparison: bool = False,
                 target: float | None = None) -> Path:
    """Write the report of SPEC to `output` (checked first, written whole); returns `output`."""
    check_output_file(output)
    kind, subject = report_subject(spec, results_dir, comparison)

    import matplotlib.pyplot as plt

    from analysis.report_pages import comparison_page, experiment_page

    plt.switch_backend("Agg")  # figures into the page, never a window
    page = comparison_page(subject, results_dir, target) if kind == "comparison" else experiment_page(Path(subject))
    write_text_atomically(Path(output), page)
    return Path(output)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", metavar="WHAT",
                        help="an experiment or a comparison: a name, a unique prefix, a folder, or "
                             "'latest' (the newest experiment); see below")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    parser.add_argument("--comparison", action="store_true",
                        help="read WHAT as a comparison ('latest': the newest comparison; a run: "
                             "the comparison it belongs to)")
    add_results_dir_flag(parser)
    parser.add_argument("--target", type=float, default=None,
                        help="comparisons: metric value for time to target (default: the median "
                             "of all runs' final best)")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    output = run_command(lambda: write_report(args.what, args.output, args.results_dir,
                                              args.comparison, args.target))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
