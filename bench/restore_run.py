"""Restores with the engine (`run_local_restore`) against emulators, beside backups of the same cluster.

    python bench/restore_run.py scale [--objects 300000 --workers 8]
    python bench/restore_run.py speedup [--items 400 --api-latency 0.02]

`scale`: a generated cluster (served by its own emulator process) is backed up as Veloweb backs
up (2 RQ workers, as `bench/backup_run.py scale`; `--backup sequential`: `run_local_backup`, slow:
one block after the other, each fsynced), then that backup is restored into a second, empty
emulator process with `run_local_restore` (tiers in order, a tier's items on --workers threads) in a
process of its own; times and peak memory (VmHWM: the restore's process, the largest process of
the backup's stack). The emulators' memory is reported apart (they stand in for API servers).

`speedup`: --items ConfigMaps (one tier) restored into an empty emulator whose every request
takes --api-latency seconds, with 1, 2, 4, 8 and 16 workers; prints the time of the tier and the
speedup over one worker (Velero restores item after item: its figure is the one-worker line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mib(pid: int | str = "self") -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def start_emulator(tmp: str, name: str, objects: int) -> tuple[subprocess.Popen, str]:
    kubeconfig = os.path.join(tmp, f"{name}.kubeconfig")
    empty = os.path.join(tmp, "no-manifests")
    os.makedirs(empty, exist_ok=True)
    command = [sys.executable, "-m", "emulator", "--manifests", empty, "--kubeconfig-out", kubeconfig]
    if objects:
        command += ["--generate", str(objects)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # serving
    return proc, kubeconfig


def child(kind: str, args: dict) -> dict:
    """Run one backup or restore in a fresh process; its figures as JSON."""
    out = subprocess.run(
        [sys.executable, __file__, "_child", kind, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(kind: str, raw: str) -> None:
    args = json.loads(raw)
    from backups.kube import connect

    client = connect(kubeconfig=args["kubeconfig"], page_size=500, qps=1e9, burst=10**9)
    started = time.perf_counter()
    if kind == "backup":
        from backups.engine.planning.spec import BackupSpec
        from backups.engine.sequential_backup import run_local_backup

        result = run_local_backup(client, BackupSpec(), "big", args["out"])
        figures = {"phase": result.phase, "items": result.items_written, "tarball": result.tarball}
    else:
        from backups.engine.restore import RestoreSpec, run_local_restore

        spec = RestoreSpec(backup_name="big", workers=args["workers"])
        result = run_local_restore(
            args["tarball"], spec, client, "big-restore", args["work"], keep_outcomes=False
        )
        counts = result.results.counts()
        figures = {
            "phase": result.phase,
            "items": sum(counts.values()),
            "counts": counts,
            "errors": result.results.error_count,
            "warnings": result.results.warning_count,
            "tiers": [t for t in result.tier_seconds if t[1]],
        }
    figures["seconds"] = time.perf_counter() - started
    figures["peak_mib"] = peak_rss_mib()
    client.close()
    print(json.dumps(figures))


def backup_with_workers(tmp: str, kubeconfig: str, workers: int) -> dict:
    """The backup as Veloweb runs it (RQ workers, `bench/backup_run.py scale`'s stack), metadata only;
    its figures and a copy of its tarball."""
    import shutil

    from bench.backup_run import MemoryWatch, run_backup
    from veloweb.devstack import DevStack

    with DevStack(Path(tmp) / "stack", VELOWEB_BATCH_ITEMS="2000") as stack:
        stack.start(workers=workers)
        stack.manage("cluster", "add", "big", "--kubeconfig", kubeconfig)
        with MemoryWatch(stack) as memory:
            create = ["--workers", str(workers), "--snapshot-volumes", "false"]
            state, elapsed = run_backup(stack, "big", create, timeout=3600, poll=0.5)
        tarball = os.path.join(tmp, "big.tar.gz")
        shutil.copyfile(stack.storage() / "backups" / "big" / "big.tar.gz", tarball)
    return {
        "phase": state["phase"],
        "items": state["done"],
        "seconds": elapsed,
        "peak_mib": max(memory.peaks.values()),
        "tarball": tarball,
    }


def scale(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        source, source_kc = start_emulator(tmp, "source", args.objects)
        target, target_kc = start_emulator(tmp, "target", 0)
        print(f"emulators ready in {time.perf_counter() - t0:.1f} s ({args.objects:,} generated objects)")
        try:
            if args.backup == "workers":
                backup = backup_with_workers(tmp, source_kc, args.backup_workers)
                label = f"backup ({args.backup_workers} RQ workers)"
            else:
                backup = child("backup", {"kubeconfig": source_kc, "out": os.path.join(tmp, "out")})
                label = "backup (run_local_backup)"
            size = os.path.getsize(backup["tarball"]) / 2**20
            work = os.path.join(tmp, "work")
            restore = child(
                "restore",
                {
                    "kubeconfig": target_kc,
                    "tarball": backup["tarball"],
                    "work": work,
                    "workers": args.workers,
                },
            )
            print(f"{'':28}{'items':>10}{'seconds':>10}{'items/s':>10}{'peak MiB':>10}")
            for name, f in ((label, backup), (f"restore ({args.workers} threads)", restore)):
                rate = f["items"] / f["seconds"]
                print(f"{name:28}{f['items']:>10,}{f['seconds']:>10.1f}{rate:>10,.0f}{f['peak_mib']:>10.0f}")
            print(
                f"backup {backup['phase']}, tarball {size:.1f} MiB (peak: the largest process of its stack)"
            )
            print(
                f"restore {restore['phase']}: {restore['counts']}, {restore['errors']} errors, "
                f"{restore['warnings']} warnings"
            )
            slowest = sorted(restore["tiers"], key=lambda t: -t[2])[:5]
            print("slowest tiers: " + ", ".join(f"{n} {i:,} items {s:.1f} s" for n, i, s in slowest))
            print(
                f"emulators (the API servers): source {peak_rss_mib(source.pid):.0f} MiB, "
                f"target {peak_rss_mib(target.pid):.0f} MiB"
            )
        finally:
            for proc in (source, target):
                proc.terminate()
                proc.wait(30)


def speedup(args) -> None:
    from backups.engine.planning.spec import BackupSpec
    from backups.engine.restore import RestoreSpec, run_local_restore
    from backups.engine.sequential_backup import run_local_backup
    from backups.kube import connect
    from emulator import KubeEmulator

    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}]
    objects += [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}", "namespace": "bench"},
         "data": {"i": str(i)}}
        for i in range(args.items)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        with KubeEmulator(objects=objects) as source:
            client = connect(kubeconfig=source.write_kubeconfig(os.path.join(tmp, "src")))
            backup = run_local_backup(client, BackupSpec(), "big", os.path.join(tmp, "out"))
            client.close()
        latency = args.api_latency * 1000
        print(f"{args.items} ConfigMaps in one tier; every request to the target takes {latency:.0f} ms")
        print(f"{'workers':>7} {'tier':>9} {'restore':>9} {'speedup':>8} {'x workers':>10}")
        baseline = None
        for workers in args.workers:
            with KubeEmulator() as target:
                target.set_latency(args.api_latency)
                kubeconfig = target.write_kubeconfig(os.path.join(tmp, f"t{workers}"))
                client = connect(kubeconfig=kubeconfig, qps=1e9, burst=10**9)
                started = time.perf_counter()
                result = run_local_restore(
                    backup.tarball,
                    RestoreSpec(backup_name="big", workers=workers),
                    client,
                    f"r{workers}",
                    os.path.join(tmp, f"w{workers}"),
                )
                total = time.perf_counter() - started
                client.close()
            assert result.phase == "Completed" and result.results.counts() == {"created": args.items + 1}
            tier = next(s for name, _n, s in result.tier_seconds if name == "configmaps")
            baseline = baseline or tier * workers
            gain = baseline / tier
            print(
                f"{workers:>7} {tier:>8.2f}s {total:>8.2f}s {gain:>8.2f} {gain / workers:>10.2f}", flush=True
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    c = sub.add_parser("scale")
    c.add_argument("--objects", type=int, default=300_000)
    c.add_argument("--workers", type=int, default=8, help="restore threads")
    c.add_argument("--backup", choices=["workers", "sequential"], default="workers")
    c.add_argument("--backup-workers", type=int, default=2)
    s = sub.add_parser("speedup")
    s.add_argument("--items", type=int, default=400)
    s.add_argument("--api-latency", type=float, default=0.02)
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    args = parser.parse_args()
    {"scale": scale, "speedup": speedup}[args.bench](args)


if __name__ == "__main__":
    main()
