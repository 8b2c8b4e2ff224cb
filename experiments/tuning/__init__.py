"""How one run is planned, built, run and resumed, and how comparisons are run: the library
behind the launcher commands."""
