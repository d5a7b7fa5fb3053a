"""One way to run a scenario and store it: the runner the backends register with (``runner.py``),
the run directory (``run_directory.py``) and where a result came from (``provenance.py``)."""
