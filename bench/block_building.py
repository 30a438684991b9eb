"""Block-building rate for a generated cluster (issue goal: 300,000 objects in under 5 s).

    python bench/block_building.py [--objects 300000] [--seed 0]

Prints the time to collect and build every ItemBlock offline (in-memory source), the rate,
the block count and the peak memory of this process. Generating the cluster is not timed.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backups.engine.log import BackupLog  # noqa: E402
from backups.engine.manifests.reader import ManifestSource  # noqa: E402
from backups.engine.planning.itemblocks import plan_item_blocks  # noqa: E402
from backups.engine.planning.spec import BackupSpec  # noqa: E402
from emulator.generate import generate_cluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    objects = generate_cluster(args.objects, seed=args.seed)
    source = ManifestSource(objects)
    del objects
    gc.collect()
    setup = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    tracemalloc.start()
    started = time.perf_counter()
    log = BackupLog()
    plan = plan_item_blocks(source, BackupSpec(), log)
    elapsed = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # time again without tracemalloc, which slows allocation-heavy code down
    gc.collect()
    started = time.perf_counter()
    plan = plan_item_blocks(source, BackupSpec(), BackupLog())
    untraced = time.perf_counter() - started

    items = plan.item_count + len(plan.excluded)
    sizes = sorted((len(b) for b in plan.blocks), reverse=True)
    print(f"cluster: {len(source):,} objects generated and indexed in {setup:.1f} s (not timed below)")
    print(f"built {len(plan.blocks):,} blocks of {plan.item_count:,} items ({len(plan.excluded):,} excluded)")
    print(
        f"block building: {untraced:.2f} s = {items / untraced:,.0f} items/s  (goal: 300,000 objects < 5 s)"
    )
    print(
        f"with tracemalloc: {elapsed:.2f} s; memory allocated by block building, peak: "
        f"{traced_peak / 2**20:.0f} MiB"
    )
    print(f"largest blocks: {sizes[:5]}; warnings {log.warnings}, errors {log.errors}")
    print(
        f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        f"(after loading the cluster: {rss_before:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
