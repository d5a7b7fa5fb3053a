"""The model of the machine: pause profiles pooled from trials (``pooling``), a trial replayed from
what it measured (``replay``), a trial predicted before it runs (``predict``), how big the ring must
be (``size``), and the usual remedy for each source of pauses (``remedies``)."""
