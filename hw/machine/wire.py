"""The pingpong wire format and the maps' records as NumPy and struct layouts.

The one definition is ``bpf/ring_wire.h`` (shared by the XDP program and the native hot loops);
these dtypes mirror it for the Python side, and ``tests/test_wire.py`` compiles the header and
fails if they drift apart.
"""

from __future__ import annotations

import struct

import numpy as np

ETHERTYPE_PINGPONG = 0x2002
PAYLOAD_MAGIC = 0x8BADBEEF
FRAME_BYTES = 1024
IPV4_FILLER = bytes([0x45, 0, 0, 0x44, 0, 0, 0, 0, 64, 0xFF, 0, 0]) + bytes(8)  # protocol raw, checksum 0
PAYLOAD_OFFSET = 14 + len(IPV4_FILLER)
ETHERTYPE_IPV4, PROTOCOL_UDP = 0x0800, 17
UDP_PAYLOAD_OFFSET = 14 + 20 + 8  # a UDP datagram's frame: Ethernet, IPv4, UDP, then the payload
PHASE_PING = 0

# The payload as the ring's slots hold it (struct payload_original / payload_packed).
PAYLOAD_DTYPES = {
    "original": np.dtype([("id", "<u4"), ("phase", "<u4"), ("ts", "<u8", 4), ("magic", "<u4"), ("padding", "<u4")]),
    "packed": np.dtype([("id", "<u8"), ("ts", "<u8", 4), ("phase", "<u4"), ("magic", "<u4")]),
}
PAYLOAD_STRUCTS = {"original": struct.Struct("<IIQQQQI4x"), "packed": struct.Struct("<QQQQQII")}
LAYOUT_CODES = {"original": 0, "packed": 1}  # enum payload_layout

# struct packet_log: one record per packet id, written by the XDP program.
LOG_DTYPE = np.dtype([("seen_ns", "<u8"), ("decided_ns", "<u8"), ("slot", "<u4"), ("index_after", "<u4"),
                      ("fate", "<u4"), ("cpu", "<u4"), ("claim", "<u8"), ("blocked_by", "<u8")])
LOG_WRITTEN, LOG_DROPPED_FULL = 1, 2  # FATE_WRITTEN, FATE_DROPPED_FULL
COUNTER_NAMES = ("seen", "written", "dropped_full", "not_ours", "not_logged")  # enum counter, in order


def pack_payload(layout: str, packet_id: int, send_ns: int) -> bytes:
    """A ping payload with the given id and TX timestamp, magic set."""
    if layout == "original":
        return PAYLOAD_STRUCTS[layout].pack(packet_id, PHASE_PING, send_ns, 0, 0, 0, PAYLOAD_MAGIC)
    return PAYLOAD_STRUCTS[layout].pack(packet_id, send_ns, 0, 0, 0, PHASE_PING, PAYLOAD_MAGIC)


def frame_template(dst_mac: bytes, src_mac: bytes, layout: str) -> bytearray:
    """A full 1024-byte frame for id 0; ``id_patcher`` writes the id in place."""
    header = dst_mac + src_mac + struct.pack("!H", ETHERTYPE_PINGPONG) + IPV4_FILLER
    frame = bytearray(header + pack_payload(layout, 0, 0))
    frame.extend(bytes(FRAME_BYTES - len(frame)))
    return frame


def udp_frame_template(dst_mac: bytes, src_mac: bytes, layout: str, src_ip: str, dst_ip: str, port: int) -> bytearray:
    """A full 1024-byte frame carrying a UDP datagram (the UDP socket path) for id 0, from ``src_ip``
    to ``dst_ip``:``port``, the IPv4 header's checksum computed, the UDP checksum 0 (none, as IPv4
    allows): patching the id changes neither."""
    import ipaddress

    udp_bytes = FRAME_BYTES - 14 - 20
    ip_header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_bytes, 0, 0x4000, 64, PROTOCOL_UDP, 0,
                                      ipaddress.IPv4Address(src_ip).packed, ipaddress.IPv4Address(dst_ip).packed))
    total = sum(struct.unpack("!10H", ip_header))
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", ip_header, 10, ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)
    header = dst_mac + src_mac + struct.pack("!H", ETHERTYPE_IPV4) + bytes(ip_header)
    header += struct.pack("!HHHH", port, port, udp_bytes, 0)
    frame = bytearray(header + pack_payload(layout, 0, 0))
    frame.extend(bytes(FRAME_BYTES - len(frame)))
    return frame


def id_patcher(layout: str, payload_offset: int = PAYLOAD_OFFSET):
    """A function ``(frame, id)`` that writes the id into a frame from :func:`frame_template` (or, with
    ``UDP_PAYLOAD_OFFSET``, :func:`udp_frame_template`)."""
    packer = struct.Struct("<I" if layout == "original" else "<Q")
    return lambda frame, packet_id: packer.pack_into(frame, payload_offset, packet_id)


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"not a MAC address: {text!r}") from None
