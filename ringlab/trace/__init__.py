"""What a run records: the per-packet trace both backends write (``records.py``), the poller's
pauses with their kinds and sources (``pauses.py``), the poller's warnings log, written in C
(``warnings_log.py``, ``warnings_log.c``, ``warning_lines.h``), and pause profiles, the pauses of a
machine that predictions draw from (``pause_profile.py``)."""
