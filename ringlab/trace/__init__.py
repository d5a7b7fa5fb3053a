"""What a run records: the per-packet trace both backends write (``trace.py``) and the poller's
pauses with their kinds and sources (``pauses.py``)."""
