"""python -m emulator --manifests PATH [PATH...] [--port N] [--kubeconfig-out PATH]"""

import argparse
import signal
import sys
import threading

from emulator import SAMPLE_CLUSTER, KubeEmulator


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Serve a Kubernetes API emulator."
    )
    parser.add_argument(
        "--manifests",
        nargs="+",
        default=[SAMPLE_CLUSTER],
        help="manifest files or folders (default: the bundled sample cluster)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig pointing at the emulator here")
    parser.add_argument("--context", default="emulator", help="context name in the kubeconfig")
    parser.add_argument(
        "--generate",
        type=int,
        default=0,
        metavar="N",
        help="also serve a generated cluster of about N objects",
    )
    args = parser.parse_args(argv)

    objects = []
    if args.generate:
        from .generate import generate_cluster

        objects = generate_cluster(args.generate)
    from .manifests import ManifestError, load_manifests

    try:
        objects = load_manifests(args.manifests, warn=_warn) + objects
    except ManifestError as exc:
        parser.error(str(exc))
    emu = KubeEmulator(objects=objects, host=args.host, port=args.port).start()
    if args.kubeconfig_out:
        emu.write_kubeconfig(args.kubeconfig_out, context=args.context)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"Kubernetes API emulator serving {len(objects)} objects at {emu.url}", flush=True)
    while not done.wait(1.0):
        pass
    emu.stop()
    return 0


def _warn(message: str) -> None:
    """An object of the manifests that is not served (the others are)."""
    print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
