"""What each delivery path costs on this machine, as trials measure it (docs/delivery.md): the
poller's read back to back and its wake-up (``ringlab replay``'s measured costs), the XDP program's
time to decide, the UDP poller's loop period (its shortest gaps: the median and 90th percentile of
the pauses it records with a 1 us threshold), and what one UDP datagram takes of the socket's
buffer at three buffer sizes. One trial per path (the examples' one-stall scenarios).
Needs root and the hardware prerequisites; run it on a quiet machine, at several times.
Usage: python benchmarks/delivery_costs.py
"""

import platform
import time
from pathlib import Path

import numpy as np

from ringlab.compare.model.replay import measured_costs
from ringlab.hw.trial.run import run_trial
from ringlab.scenario.fields import load_scenario

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main() -> None:
    print(f"machine: {platform.machine()}, {platform.release()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for path, example in (("map_ring fixed", "fixed-one-stall.toml"), ("af_xdp", "af-xdp-one-stall.toml"),
                          ("udp_socket", "udp-socket-one-stall.toml")):
        scenario = load_scenario(EXAMPLES / example).with_values({"interval": "20us", "packets": 15000})
        trial = run_trial(scenario)
        costs = measured_costs(trial.trace, scenario)
        print(f"{path:<16} poller.cost {costs['poller.cost']} ns, poller.wakeup {costs['poller.wakeup']} ns, "
              f"writer.cost {costs['writer.cost']} ns", flush=True)
    for rcvbuf in (8000, 20000, 106496):
        scenario = load_scenario(EXAMPLES / "udp-socket-one-stall.toml").with_values(
            {"udp_socket.rcvbuf_bytes": rcvbuf, "stalls.stalls": [["100ms", "3ms"]], "hw.pause_threshold": "1us"})
        trial = run_trial(scenario)
        lengths = trial.trace.pauses.length_ns
        print(f"udp_socket limit {trial.delivery['limit_bytes']} bytes: a datagram takes "
              f"{trial.delivery['packet_bytes_measured']:.0f} bytes; loop gaps over 1 us: "
              f"p50 {np.percentile(lengths, 50) / 1e3:.2f} us, p90 {np.percentile(lengths, 90) / 1e3:.2f} us", flush=True)


if __name__ == "__main__":
    main()
