"""ringlab: loss and reordering in an XDP-to-poller map ring, simulated, measured and compared.

The shared vocabulary lives here: the scenario (:mod:`ringlab.scenario`), stall models and the stall
schedules they draw (:mod:`ringlab.stalls`), the per-packet trace (:mod:`ringlab.trace`) and the
analysis both backends are measured by (:mod:`ringlab.analysis`).
"""

__version__ = "0.1.0"
