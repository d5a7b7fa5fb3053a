"""The scenario: everything that defines a run, loaded from TOML and overridable with ``--set``.

Validation lives here, apart from both engines, and fails early with one line that names the
field and the problem (:class:`ringlab.errors.InputError`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ringlab.atomic_files import read_bounded
from ringlab.errors import InputError
from ringlab.scenario.delivery_paths import PATHS, DeliveryPath
from ringlab.scenario.stalls import StallModel, stall_model_from_spec
from ringlab.scenario.units import format_time_ns, parse_time_ns

WRITER_POLICIES = ("buggy", "fixed", "locked")
RSS_MODES = ("round_robin", "random")
XDP_MODES = ("generic", "native")
PAYLOAD_LAYOUTS = ("original", "packed")
HOT_LOOPS = ("native", "python")
PACING = ("busy", "sleep")
# How the packets reach the poller (docs/delivery.md): the map ring (the XDP program writes a BPF array
# map), an AF_XDP socket (the XDP program redirects to an XSKMAP; the kernel fills its RX ring), or a
# UDP socket (the packets go up the kernel's stack into its receive buffer).
# Each path's rules are one object of ringlab/scenario/delivery_paths.py.
DELIVERY_PATHS = tuple(PATHS)
# Each path's own table, filled in only for that path (so a map-ring scenario's key is what it was).
DELIVERY_DEFAULTS = {path.name: dict(path.table) for path in PATHS.values() if path.table}

# Fields that only one backend uses; the other accepts them and says it ignores them.
SIM_ONLY_FIELDS = ("writer.cost", "writer.lock_hold", "writer.rss", "poller.cost", "poller.wakeup")
HW_ONLY_FIELDS = ("hw.mode", "hw.payload_layout", "hw.queues", "hw.loops", "hw.pacing", "hw.pause_threshold",
                  "hw.trace_kernel", "hw.poller_cpu")

DEFAULTS = {
    "name": "unnamed",
    "seed": 0,
    "ring_slots": 16,
    "interval": "1us",
    "jitter": "0ns",
    "drain": "1ms",
    "writer": {"policy": "buggy", "cost": "100ns", "lock_hold": "20ns", "cpus": 1, "rss": "round_robin"},
    "poller": {"cost": "100ns", "wakeup": "50ns"},
    "stalls": {"model": "none"},
    "hw": {"mode": "generic", "payload_layout": "original", "queues": 0, "loops": "native", "pacing": "busy",
           "pause_threshold": "1us", "trace_kernel": True,
           "poller_cpu": 0},
}
TOP_LEVEL_KEYS = set(DEFAULTS) | {"packets", "duration", "delivery"} | set(DELIVERY_DEFAULTS)

# What a scenario may ask for (each error states the limit it met).
MAX_SEED = 2**63 - 1
MAX_RING_SLOTS = 2**24
MAX_PACKETS = 10**12
MAX_CPUS = 1024
MAX_RUN_NS = 2**62        # the run's end: packets x (interval + jitter) + drain, within 64-bit clocks
MAX_STALLS = 10**8        # stalls a run may draw before its end
MAX_FILE_BYTES = 1 << 20  # a scenario or sweep file
MAX_NESTING = 32          # tables and lists inside each other in such a file
MAX_UMEM_FRAMES = 2**20   # an AF_XDP socket's UMEM frames (4 KiB each: 4 GiB)
MAX_RCVBUF_BYTES = 2**30  # what SO_RCVBUF is given (the kernel doubles it)


@dataclass(frozen=True)
class WriterConfig:
    """The XDP program: its index policy, its per-packet cost, and how many CPUs run it."""

    policy: str
    cost_ns: int
    lock_hold_ns: int
    cpus: int
    rss: str


@dataclass(frozen=True)
class PollerConfig:
    """The userspace poller: time to read, clear and handle one payload; time to notice a valid slot."""

    cost_ns: int
    wakeup_ns: int


@dataclass(frozen=True)
class HardwareConfig:
    """Settings only the hardware backend uses."""

    mode: str
    payload_layout: str
    queues: int
    loops: str  # the poller's and sender's hot loops: native (C) or python
    pacing: str  # busy: wait to each planned send time; sleep: sleep one interval after each frame
    pause_threshold_ns: int  # a gap between two iterations of the poller's loop longer than this is a pause
    trace_kernel: bool  # trace the kernel's events on the poller's CPU, to name each pause's source
    poller_cpu: int = 0  # the CPU the poller runs on (one sender takes another)


@dataclass(frozen=True)
class DeliveryConfig:
    """How packets reach the poller, and what the path holds (docs/delivery.md).

    ``map_ring``: the ring of ``ring_slots`` payload slots, under the writer's policy. ``af_xdp``: an
    RX ring of ``ring_slots`` descriptors (a power of two) and ``frames`` UMEM frames, all in the fill
    ring at the start and each returned as the poller reads its packet. ``udp_socket``: a receive
    buffer given ``rcvbuf_bytes`` (SO_RCVBUF; the kernel's limit is twice that) where each packet takes
    ``packet_bytes`` (its socket buffer's truesize); the kernel refuses a packet while what the socket
    holds is over the limit."""

    path: str = "map_ring"
    frames: int = 0
    rcvbuf_bytes: int = 0
    packet_bytes: int = 0

    @property
    def kind(self) -> DeliveryPath:
        """The path's rules (ringlab/scenario/delivery_paths.py)."""
        return PATHS[self.path]

    @property
    def is_map_ring(self) -> bool:
        return self.kind.has_writer_policy

    def capacity_packets(self, ring_slots: int) -> int:
        """The most packets the path holds unread."""
        return self.kind.capacity_packets(ring_slots, self.frames, self.rcvbuf_bytes, self.packet_bytes or 1)


MAP_RING = DeliveryConfig()


@dataclass(frozen=True)
class Scenario:
    """One run: ring, sender pacing, writer, poller, stall model and seed. Times in nanoseconds."""

    name: str
    seed: int
    ring_slots: int
    interval_ns: int
    jitter_ns: int
    packets: int
    drain_ns: int
    writer: WriterConfig
    poller: PollerConfig
    stalls: StallModel
    hw: HardwareConfig
    source: dict = field(compare=False, repr=False)
    base_dir: Path | None = field(default=None, compare=False, repr=False)  # relative paths start here
    delivery: DeliveryConfig = MAP_RING

    @property
    def capacity_packets(self) -> int:
        """The most packets its delivery path holds unread (the map ring: its slots)."""
        return self.delivery.capacity_packets(self.ring_slots)

    def to_dict(self) -> dict:
        """The scenario as given (defaults filled in), ready for TOML or JSON."""
        return copy.deepcopy(self.source)

    def with_values(self, values: dict) -> Scenario:
        """A new, validated scenario with each dotted field of ``values`` set (``{"writer.policy": "fixed"}``)."""
        return scenario_from_dict(set_fields(self.source, values), self.base_dir)

    @property
    def longest_ns(self) -> int:
        """The latest the run can end: every gap at its longest (interval + jitter), then the drain."""
        return longest_run_ns(self.packets, self.interval_ns, self.jitter_ns, self.drain_ns)

    def key(self) -> str:
        """A short hash identifying this scenario (stable across runs and machines)."""
        text = json.dumps(self.source, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def notes_for(self, backend: str) -> list[str]:
        """A note naming the fields given here that ``backend`` ("sim" or "hw") does not use."""
        if backend == "sim":
            ignored, who = self.given_fields(HW_ONLY_FIELDS), "the simulator"
        else:
            ignored, who = self.given_fields(SIM_ONLY_FIELDS), "the hardware backend (real costs apply)"
        return [f"ignored by {who}: {', '.join(ignored)}"] if ignored else []

    def given_fields(self, names) -> list[str]:
        """Which of the dotted ``names`` the user set to something other than the default."""
        given = []
        for name in names:
            table, _, key = name.partition(".")
            value = self.source.get(table, {}).get(key)
            if value != DEFAULTS[table][key]:
                given.append(name)
        return given


def longest_run_ns(packets: int, interval_ns: int, jitter_ns: int, drain_ns: int) -> int:
    return packets * (interval_ns + jitter_ns) + drain_ns


def _merge(defaults: dict, given: dict) -> dict:
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "stalls":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _int(value, field_name: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field_name, f"expected a whole number, got {value!r}")
    if value < minimum:
        raise InputError(field_name, f"must be at least {minimum}, got {value}")
    if value > maximum:
        raise InputError(field_name, f"must be at most {maximum}, got {value}")
    return value


def _bool(value, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(field_name, f"expected true or false, got {value!r}")
    return value


def _choice(value, field_name: str, choices) -> str:
    if value not in choices:
        raise InputError(field_name, f"unknown value {value!r} (choose {', '.join(choices)})")
    return value


def _check_keys(table: dict, allowed, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise InputError(f"{prefix}{key}", "unknown field")


def parse_override(text: str) -> tuple[list[str], object]:
    """Split ``writer.policy=fixed`` into a key path and a TOML value (bare words are strings)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError("--set", f"expected key=value, got {text!r}")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except ValueError:  # not TOML (or a number too long for Python): a bare word
        value = raw.strip()
    return key.strip().split("."), value


def set_fields(data: dict, values: dict) -> dict:
    """Return ``data`` with each dotted field in ``values`` set (creating tables as needed)."""
    data = copy.deepcopy(data)
    for dotted, value in values.items():
        path = dotted.split(".")
        table = data
        for part in path[:-1]:
            nxt = table.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise InputError(dotted, f"{part!r} is not a table")
            table = nxt
        table[path[-1]] = copy.deepcopy(value)
    return data


def apply_overrides(data: dict, overrides) -> dict:
    """Return ``data`` with each ``key=value`` override applied, in order."""
    for text in overrides:
        path, value = parse_override(text)
        data = set_fields(data, {".".join(path): value})
    return copy.deepcopy(data)


def scenario_from_dict(given: dict, base_dir: Path | None = None) -> Scenario:
    """Validate a scenario table (as read from TOML) into a :class:`Scenario`."""
    if not isinstance(given, dict):
        raise InputError("scenario", "expected a table")
    _check_keys(given, TOP_LEVEL_KEYS, "")
    for table in ("writer", "poller", "hw"):
        if table in given:
            if not isinstance(given[table], dict):
                raise InputError(table, "expected a table")
            _check_keys(given[table], DEFAULTS[table], f"{table}.")
    data = _merge(DEFAULTS, given)
    threshold = PATHS[data["delivery"]].pause_threshold if data.get("delivery") in PATHS else None
    if threshold is not None and "pause_threshold" not in given.get("hw", {}):
        data["hw"]["pause_threshold"] = threshold

    name = data["name"]
    if not isinstance(name, str) or not name:
        raise InputError("name", f"expected a non-empty string, got {name!r}")
    seed = _int(data["seed"], "seed", 0, MAX_SEED)
    ring_slots = _int(data["ring_slots"], "ring_slots", 1, MAX_RING_SLOTS)
    interval_ns = parse_time_ns(data["interval"], "interval", allow_zero=False)
    jitter_ns = parse_time_ns(data["jitter"], "jitter")
    drain_ns = parse_time_ns(data["drain"], "drain")
    if "packets" in data and "duration" in data:
        raise InputError("duration", "give either packets or duration, not both")
    if "packets" in data:
        packets = _int(data["packets"], "packets", 1, MAX_PACKETS)
    elif "duration" in data:
        duration_ns = parse_time_ns(data["duration"], "duration", allow_zero=False)
        packets = _int(max(1, duration_ns // interval_ns), "duration", 1, MAX_PACKETS)
    else:
        raise InputError("packets", "missing (give packets, or a duration)")

    w = data["writer"]
    writer = WriterConfig(
        policy=_choice(w["policy"], "writer.policy", WRITER_POLICIES),
        cost_ns=parse_time_ns(w["cost"], "writer.cost"),
        lock_hold_ns=parse_time_ns(w["lock_hold"], "writer.lock_hold"),
        cpus=_int(w["cpus"], "writer.cpus", 1, MAX_CPUS),
        rss=_choice(w["rss"], "writer.rss", RSS_MODES),
    )
    p = data["poller"]
    poller = PollerConfig(
        cost_ns=parse_time_ns(p["cost"], "poller.cost"),
        wakeup_ns=parse_time_ns(p["wakeup"], "poller.wakeup"),
    )
    h = data["hw"]
    hw = HardwareConfig(
        mode=_choice(h["mode"], "hw.mode", XDP_MODES),
        payload_layout=_choice(h["payload_layout"], "hw.payload_layout", PAYLOAD_LAYOUTS),
        queues=_int(h["queues"], "hw.queues", 0, MAX_CPUS),
        loops=_choice(h["loops"], "hw.loops", HOT_LOOPS),
        pacing=_choice(h["pacing"], "hw.pacing", PACING),
        pause_threshold_ns=parse_time_ns(h["pause_threshold"], "hw.pause_threshold", allow_zero=False),
        trace_kernel=_bool(h["trace_kernel"], "hw.trace_kernel"),
        poller_cpu=_int(h["poller_cpu"], "hw.poller_cpu", 0, MAX_CPUS - 1),
    )
    longest_ns = longest_run_ns(packets, interval_ns, jitter_ns, drain_ns)
    if longest_ns > MAX_RUN_NS:
        raise InputError("packets" if "packets" in data else "duration",
                         f"the run could last {format_time_ns(longest_ns)} ({packets} packets of up to "
                         f"{format_time_ns(interval_ns + jitter_ns)}, then the drain), beyond the "
                         f"{format_time_ns(MAX_RUN_NS)} the engines hold")
    stalls = stall_model_from_spec(data["stalls"], "stalls", base_dir)
    expected = stalls.expected_count(longest_ns)
    if not math.isfinite(expected):
        raise InputError("stalls", "its runs and stalls last 0 ns on average (whole ns): the schedule would never end")
    if expected > MAX_STALLS:
        raise InputError("stalls", f"about {expected:.3g} stalls before the run ends, more than {MAX_STALLS:.0e}: "
                                   "lengthen the runs between stalls or shorten the run")
    delivery = _delivery(data, ring_slots)
    return Scenario(name, seed, ring_slots, interval_ns, jitter_ns, packets, drain_ns, writer, poller, stalls, hw, data,
                    base_dir, delivery)


def _delivery(data: dict, ring_slots: int) -> DeliveryConfig:
    """The delivery path of a merged scenario table; its own table's defaults are filled into ``data``.
    A path other than the map ring has no writer policy and no spin lock: it refuses them if given."""
    path = _choice(data.setdefault("delivery", MAP_RING.path), "delivery", DELIVERY_PATHS)
    kind = PATHS[path]
    for other in DELIVERY_DEFAULTS:  # another path's table is kept (a sweep over paths sets each one's)
        if other in data and other != path:
            if not isinstance(data[other], dict):
                raise InputError(other, "expected a table")
            _check_keys(data[other], DELIVERY_DEFAULTS[other], f"{other}.")
    if kind.has_writer_policy:
        del data["delivery"]  # the default, left out so that a map-ring scenario's key stays what it was
        return MAP_RING
    for name in ("policy", "lock_hold"):
        if data["writer"][name] != DEFAULTS["writer"][name]:
            raise InputError(f"writer.{name}", f"the map ring's; delivery = {path!r} has none")
    if data["writer"]["cpus"] != 1:
        raise InputError("writer.cpus", f"delivery = {path!r} models one receiving CPU (one queue)")
    given = data.get(path, {})
    if not isinstance(given, dict):
        raise InputError(path, "expected a table")
    _check_keys(given, DELIVERY_DEFAULTS[path], f"{path}.")
    table = data[path] = _merge(DELIVERY_DEFAULTS[path], given)
    if kind.ring_slots_power_of_two and ring_slots & (ring_slots - 1):
        raise InputError("ring_slots", f"an AF_XDP RX ring's descriptors must be a power of two, got {ring_slots}")
    if "frames" in table:  # a UMEM's frames
        frames = _int(table["frames"], "af_xdp.frames", 1, MAX_UMEM_FRAMES)
        if frames & (frames - 1):
            raise InputError("af_xdp.frames", f"must be a power of two (the fill ring holds them all), got {frames}")
        return DeliveryConfig(path, frames=frames)
    rcvbuf = _int(table["rcvbuf_bytes"], "udp_socket.rcvbuf_bytes", 1, MAX_RCVBUF_BYTES)
    packet = _int(table["packet_bytes"], "udp_socket.packet_bytes", 1, MAX_RCVBUF_BYTES)
    capacity = kind.capacity_packets(ring_slots, rcvbuf_bytes=rcvbuf, packet_bytes=packet)
    if capacity > MAX_RING_SLOTS:
        raise InputError("udp_socket.rcvbuf_bytes", f"holds {capacity} packets of {packet} bytes, more than {MAX_RING_SLOTS}")
    return DeliveryConfig(path, rcvbuf_bytes=rcvbuf, packet_bytes=packet)


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def read_toml(path, what: str) -> dict:
    """Read a TOML file: UTF-8, at most MAX_FILE_BYTES, nested at most MAX_NESTING deep; anything
    else is an InputError naming the file."""
    content = read_bounded(path, what, MAX_FILE_BYTES)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(str(path), f"not UTF-8 text (byte {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(str(path), f"not valid TOML: {error}") from None
    except ValueError as error:  # a number of more digits than Python converts
        raise InputError(str(path), f"not valid TOML: {str(error).split(':')[0]}") from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_NESTING:
        raise InputError(str(path), f"nested more than {MAX_NESTING} deep")
    return data


def load_scenario(path, overrides=()) -> Scenario:
    """Read a scenario TOML file, apply ``--set`` overrides, validate."""
    path = Path(path)
    return scenario_from_dict(apply_overrides(read_toml(path, "scenario"), overrides), base_dir=path.parent)
