"""The simulator: a SimPy discrete-event model of the XDP writer, the map ring and the poller.

``sim.model.simulate(scenario)`` runs one scenario and returns its :class:`ringlab.trace.Trace`.
"""
