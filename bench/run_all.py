"""`make bench`: run every benchmark script in turn; each prints one line per figure."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The fan-out benchmark prints the DESIGN target ratio last, so it runs last.
SCRIPTS = ["simulator_bench.py", "capture_bench.py", "fanout_bench.py"]


def main() -> int:
    status = 0
    for name in SCRIPTS:
        script = HERE / name
        if not script.exists():
            print(f"bench: {name} missing", file=sys.stderr)
            status = 1
            continue
        print(f"== {name}", flush=True)
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
