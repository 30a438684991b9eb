import os
import signal
import subprocess
import sys

from kubernetes import client, config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cli_serves_sample_cluster_until_sigterm(tmp_path):
    kc = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--manifests",
            "emulator/sample_cluster",
            "--kubeconfig-out",
            str(kc),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        api = config.new_client_from_config(config_file=str(kc), context="emulator")
        assert api.configuration.host in line
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert {"shop", "payments", "monitoring", "kube-system"} <= set(names)
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
