"""The pingpong wire format of phenomenon.md: frames, and the two payload layouts."""

from __future__ import annotations

import struct

import numpy as np

ETHERTYPE_PINGPONG = 0x2002
PAYLOAD_MAGIC = 0x8BADBEEF
FRAME_BYTES = 1024
IPV4_FILLER = bytes([0x45, 0, 0, 0x44, 0, 0, 0, 0, 64, 0xFF, 0, 0]) + bytes(8)  # protocol raw, checksum 0
PAYLOAD_OFFSET = 14 + len(IPV4_FILLER)
PHASE_PING = 0

# The payload as the ring's slots hold it (numpy views of the mmapped map use these).
PAYLOAD_DTYPES = {
    "original": np.dtype([("id", "<u4"), ("phase", "<u4"), ("ts", "<u8", 4), ("magic", "<u4"), ("padding", "<u4")]),
    "packed": np.dtype([("id", "<u8"), ("ts", "<u8", 4), ("phase", "<u4"), ("magic", "<u4")]),
}
PAYLOAD_STRUCTS = {"original": struct.Struct("<IIQQQQI4x"), "packed": struct.Struct("<QQQQQII")}
assert all(d.itemsize == 48 for d in PAYLOAD_DTYPES.values())


def pack_payload(layout: str, packet_id: int, send_ns: int) -> bytes:
    """A ping payload with the given id and TX timestamp, magic set."""
    if layout == "original":
        return PAYLOAD_STRUCTS[layout].pack(packet_id, PHASE_PING, send_ns, 0, 0, 0, PAYLOAD_MAGIC)
    return PAYLOAD_STRUCTS[layout].pack(packet_id, send_ns, 0, 0, 0, PHASE_PING, PAYLOAD_MAGIC)


def frame_template(dst_mac: bytes, src_mac: bytes, layout: str) -> bytearray:
    """A full 1024-byte frame for id 0; ``set_id`` patches the id in place."""
    header = dst_mac + src_mac + struct.pack("!H", ETHERTYPE_PINGPONG) + IPV4_FILLER
    frame = bytearray(header + pack_payload(layout, 0, 0))
    frame.extend(bytes(FRAME_BYTES - len(frame)))
    return frame


def id_patcher(layout: str):
    """A function ``(frame, id)`` that writes the id into a frame from :func:`frame_template`."""
    packer = struct.Struct("<I" if layout == "original" else "<Q")
    return lambda frame, packet_id: packer.pack_into(frame, PAYLOAD_OFFSET, packet_id)


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)
