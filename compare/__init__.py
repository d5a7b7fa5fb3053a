"""Simulated and measured side by side, in three rooms: many runs (``sweeps``), the comparison and
its report (``report``), and the model of the machine that replays, predicts and sizes (``model``).
It sits above both backends; neither imports it."""
