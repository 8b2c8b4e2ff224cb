"""How trials run: forked from a warm process (`warm`), as new processes (`python`, Syne Tune's
PythonBackend), as Ray tasks on a cluster (`ray`), or replayed from recorded curves in
simulated time (`simulated`)."""
