"""What a run means, computed from its trace alone: the summary (``summary.py``), every drop's
cause (``attribution.py``), every read's latency (``latency.py``), and a run as one segment of a
pause profile (``profile_segment.py``)."""
