"""How a run looks: the map dump (``dump.py``), the timeline (``timeline_plot.py``) and the pause
profile's plot (``pause_plot.py``)."""
