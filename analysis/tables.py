"""How the analysis writes numbers and tables, defined once for every result (comparison,
study, sweep, costs, scaling).

Numbers travel in three forms: as floats in memory (NaN: not known; inf: a run that never
reached the target), in JSON (None for NaN and "inf"/"-inf" for the infinities, since JSON has
neither) and as short text in tables ("-", "never", "-inf", else a few significant digits).
"""

from __future__ import annotations

import math

import pandas as pd


def as_float(value) -> float:
    """A number as JSON carries it, back as a float: None is NaN, "inf" and "-inf" infinite."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None


def json_number(value: float):
    """A float as JSON carries it: NaN as None, the infinities as "inf" and "-inf"."""
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def show(value, digits: int = 4) -> str:
    """A number as a table shows it: "-" where not known, "never" for a time never reached
    (+inf), "-inf" for a difference to one, else `digits` significant digits."""
    value = as_float(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def show_signed(value, digits: int = 4) -> str:
    """A difference as a table shows it: with its sign, "+" included."""
    return ("+" if as_float(value) >= 0 else "") + show(value, digits)


def show_interval(value, low, high, digits: int = 4) -> str:
    """"value [low, high]": a statistic with its 95% interval."""
    return f"{show(value, digits)} [{show(low, digits)}, {show(high, digits)}]"


def markdown_table(columns: list[str], rows: list[list]) -> str:
    """A Markdown table (without the optional tabulate package), cells as given (str() of
    each), no newline at the end."""
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def frame_markdown(frame: pd.DataFrame) -> str:
    """A data frame as a Markdown table: floats through `show`, anything else as str()."""
    return markdown_table(list(frame.columns), [[show(v) if isinstance(v, float) else v for v in row]
                                                for row in frame.itertuples(index=False)])


def text_table(rows: list[dict]) -> str:
    """Rows of text as a plain table a terminal shows: columns right-aligned, no index."""
    return pd.DataFrame(rows).to_string(index=False)
