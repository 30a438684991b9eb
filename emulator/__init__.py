"""Kubernetes API server emulator for tests and demos (plain Python, no Django).

from emulator import KubeEmulator
with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emu:
    emu.write_kubeconfig("/tmp/kc")
"""

import os

from .manifests import load_manifests
from .server import KubeEmulator

SAMPLE_CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample_cluster")

__all__ = ["KubeEmulator", "SAMPLE_CLUSTER", "load_manifests"]
