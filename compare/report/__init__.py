"""Simulated against measured, and the report: loss curves with their intervals (``curves``), the
fit of the stalls nobody injected (``fit``), the figures (``plots``), why each measured packet was
dropped (``explain``), the sender's record beside a two-host trial (``two_hosts``), and the report
made of them (``compose``: the figures, ``markdown``: the page)."""
