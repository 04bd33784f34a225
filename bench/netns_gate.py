"""How long a new network namespace takes to make, some time after a lab has ended.

    .venv/bin/python bench/netns_gate.py [--runs 9] [COMMAND ...]

Runs COMMAND (default: `tutor selftest lesson2`), waits (busily: an idle core would slow the
next step) 0 to 200 ms, then times `unshare(CLONE_NEWNET)` in a forked child; medians by wait.
The kernel tears an ended lab's namespaces down after an RCU grace period, and a namespace made
meanwhile waits for it (bench/README.md, eighth session). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import time
from pathlib import Path

CLONE_NEWNET = 0x40000000
TUTOR = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tutor")


def unshare_ms() -> float:
    """Milliseconds a fresh child takes to make a network namespace of its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        start = time.perf_counter()
        failed = libc.unshare(CLONE_NEWNET) != 0
        os.write(w, b"nan" if failed else f"{(time.perf_counter() - start) * 1000:.3f}".encode())
        os._exit(0)
    os.close(w)
    took = float(os.read(r, 64) or b"nan")
    os.close(r)
    os.waitpid(pid, 0)
    return took


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("command", nargs="*", default=[TUTOR, "selftest", "lesson2"])
    args = p.parse_args()
    for wait in (0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.2):
        took = []
        for _ in range(args.runs):
            subprocess.run(args.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            busy(wait)
            took.append(unshare_ms())
        print(f"{wait * 1000:4.0f} ms after: unshare {statistics.median(took):6.2f} ms "
              f"(min {min(took):.1f}, max {max(took):.1f}, n={len(took)})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
