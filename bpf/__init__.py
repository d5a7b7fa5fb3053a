"""The XDP program's C source, compiled by BCC at load time (see hw/loader.py)."""

from pathlib import Path

RING_WRITER_SOURCE = Path(__file__).with_name("ring_writer.c")
