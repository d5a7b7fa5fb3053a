"""The simulator (:mod:`ringlab.sim`): a SimPy discrete-event model of the XDP writer, the map ring
(or another delivery path's queue: an AF_XDP RX ring, a UDP socket's buffer) and the poller (the
readable reference, :func:`ringlab.sim.model.simulate`), and the same rules in C
(:mod:`ringlab.sim.fast_engine`), used by default. Run it through :func:`ringlab.run`.
docs/model.md states the model's rules and where each lives.
"""
