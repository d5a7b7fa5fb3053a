"""A huge run is safe by default: ``ringlab sim --summary-only`` of the buggy writer at 10^9 packets
(687 million warnings), in a fresh process. Prints its wall time, peak memory and what it left on
disk. Usage: python benchmarks/huge_run.py [--packets 1000000000]"""

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT) as scratch:  # beside the checkout: /tmp creates files slowly here
        out = Path(scratch) / "huge"
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ringlab.cli", "sim", str(ROOT / "examples" / "buggy-one-stall.toml"),
                        "--out", str(out), "--set", f"packets={args.packets}", "--summary-only"], check=True)
        seconds = time.perf_counter() - began
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        disk = sum(path.stat().st_size for path in out.iterdir())
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"buggy writer, {args.packets:.0e} packets, --summary-only (the first and last 1000 warnings): "
          f"{seconds:.1f} s, peak memory {peak_mib:.0f} MiB, {disk / 1024:.0f} KiB on disk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
