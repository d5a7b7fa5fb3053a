"""What the kernel did on the poller's CPU: the BPF tracer of its events (``tracer``), each pause
named by its source (``pause_sources``), and ftrace's own account, to check the tracer by
(``ftrace``)."""
