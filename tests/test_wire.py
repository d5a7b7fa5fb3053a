"""One definition of the wire: the NumPy layouts of hw/machine/wire.py equal what bpf/ring_wire.h
(shared by the XDP program and the native hot loops) defines, field by field; and the kernel
event log's (hw/kernel/tracer.py) equals bpf/cpu_events.h."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ringlab.bpf import RING_WIRE_HEADER
from ringlab.hw.machine import wire

CHECKER = Path(__file__).parent / "c" / "wire_layout.c"


@pytest.fixture(scope="module")
def header_layout(tmp_path_factory):
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (make setup installs gcc)"
    binary = tmp_path_factory.mktemp("wire") / "wire_layout"
    subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", f"-I{RING_WIRE_HEADER.parent}", "-o", str(binary),
                    str(CHECKER)], check=True)
    return json.loads(subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout)


def assert_same_layout(dtype, fields):
    assert dtype.itemsize == fields.pop("size")
    assert list(dtype.names) == list(fields), "field order"
    for name, (offset, size) in fields.items():
        assert (dtype.fields[name][1], dtype.fields[name][0].itemsize) == (offset, size), name


@pytest.mark.parametrize("layout", ["original", "packed"])
def test_payload_dtypes_match_the_header(header_layout, layout):
    assert_same_layout(wire.PAYLOAD_DTYPES[layout], header_layout[f"payload_{layout}"])
    assert wire.PAYLOAD_STRUCTS[layout].size == wire.PAYLOAD_DTYPES[layout].itemsize


def test_packet_log_dtype_matches_the_header(header_layout):
    assert_same_layout(wire.LOG_DTYPE, header_layout["packet_log"])


def test_constants_and_counters_match_the_header(header_layout):
    constants = header_layout["constants"]
    assert constants["ETHERTYPE_PINGPONG"] == wire.ETHERTYPE_PINGPONG
    assert constants["PAYLOAD_MAGIC"] == wire.PAYLOAD_MAGIC
    assert constants["FRAME_BYTES"] == wire.FRAME_BYTES
    assert constants["IPV4_FILLER_BYTES"] == len(wire.IPV4_FILLER)
    assert constants["PHASE_PING"] == wire.PHASE_PING
    assert (constants["LAYOUT_ORIGINAL"], constants["LAYOUT_PACKED"]) == (wire.LAYOUT_CODES["original"],
                                                                          wire.LAYOUT_CODES["packed"])
    assert (constants["FATE_WRITTEN"], constants["FATE_DROPPED_FULL"]) == (wire.LOG_WRITTEN, wire.LOG_DROPPED_FULL)
    assert header_layout["counters"] == list(range(len(wire.COUNTER_NAMES) + 1))


def test_the_cpu_event_log_matches_its_header(header_layout):
    from ringlab.hw.kernel import tracer as kernel_trace

    assert_same_layout(kernel_trace.EVENT_DTYPE, header_layout["cpu_event"])
    assert header_layout["event_kinds"] == [kernel_trace.EVENT_SWITCH, kernel_trace.EVENT_IRQ_ENTRY,
                                            kernel_trace.EVENT_IRQ_EXIT, kernel_trace.EVENT_SOFTIRQ_ENTRY,
                                            kernel_trace.EVENT_SOFTIRQ_EXIT, kernel_trace.EVENT_VECTOR_ENTRY,
                                            kernel_trace.EVENT_VECTOR_EXIT, kernel_trace.EVENT_NMI,
                                            kernel_trace.EVENT_FUNCTION_ENTRY, kernel_trace.EVENT_FUNCTION_EXIT,
                                            kernel_trace.EVENT_EXEC]
    assert header_layout["apic_vectors"] == len(kernel_trace.APIC_VECTORS)


def test_a_frame_carries_its_id_where_the_header_puts_the_payload():
    frame = wire.frame_template(bytes(6), bytes(6), "packed")
    wire.id_patcher("packed")(frame, 1234)
    payload = frame[wire.PAYLOAD_OFFSET:wire.PAYLOAD_OFFSET + 48]
    record = wire.PAYLOAD_DTYPES["packed"]
    import numpy as np

    parsed = np.frombuffer(bytes(payload), record)[0]
    assert parsed["id"] == 1234 and parsed["magic"] == wire.PAYLOAD_MAGIC
    assert len(frame) == wire.FRAME_BYTES and frame[12:14] == b"\x20\x02"
