"""Simulated and measured side by side, in four rooms: many runs (``sweeps``), the comparison and
its report (``report``), the model of the machine that replays, predicts and sizes (``model``), and
whether a change worked (``change``: two runs compared, an experiment's pairs analysed). It sits
above both backends; neither imports it."""
