"""The XDP programs' C sources, compiled by BCC at load time (see :mod:`ringlab.hw.machine.loader`), the
header of what the two share (the frame parse, the log entry), and the header that defines the wire and
map formats they share with the native hot loops."""

from pathlib import Path

RING_WRITER_SOURCE = Path(__file__).with_name("ring_writer.c")
HANDOFF_SOURCE = Path(__file__).with_name("xdp_handoff.c")  # the other delivery paths
RING_WIRE_HEADER = Path(__file__).with_name("ring_wire.h")
CPU_EVENTS_SOURCE = Path(__file__).with_name("cpu_events.c")
CPU_EVENTS_HEADER = Path(__file__).with_name("cpu_events.h")
