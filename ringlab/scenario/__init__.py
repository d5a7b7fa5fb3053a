"""What to run: the scenario's fields, defaults and limits (``fields.py``) with its times
(``units.py``), the stall models that draw a stall schedule from the seed (``stalls.py``), the run
plan both backends consume (``plan.py``), and the memory a run will need (``memory.py``)."""
