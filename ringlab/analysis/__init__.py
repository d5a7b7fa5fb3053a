"""What a run means, computed from its trace alone: the summary (``analysis.py``), every drop's
cause (``attribution.py``) and every read's latency (``latency.py``)."""
