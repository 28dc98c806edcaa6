"""`make bench`: run every benchmark and print its figures with a ratio to an in-run baseline.

Each module `bench/bench_*.py` exposes `run() -> list[Result]`. Baselines are measured in the
same run on the same machine, so ratios stay meaningful on shared, noisy hardware.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args()

    os.environ.setdefault("VAR_DIR", str(BASE_DIR / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmapp.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)

    from bench.result import Result

    modules = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    selected = [m for m in modules if not args.names or m.removeprefix("bench_") in args.names]
    failed = False
    for name in selected:
        print(f"== {name.removeprefix('bench_')}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        results: list[Result] = module.run()
        for result in results:
            print(result.render(), flush=True)
            failed |= result.met is False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
