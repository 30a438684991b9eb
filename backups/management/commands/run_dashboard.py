"""Run the whole dashboard on one machine: Redis, the sample cluster, uvicorn, RQ workers, the
watchdog and the cron scheduler (schedules and expiry).

Everything it starts is a child process stopped by PID on Ctrl-C or SIGTERM (workers first,
Redis last). Already-running services are used instead when REDIS_URL or VELOWEB_KUBECONFIG is set.
"""

import contextlib
import os
import secrets
import signal
import sys
import time
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from backups.models import Cluster
from veloweb.embedded_redis import MAX_SOCKET_PATH, EmbeddedRedis
from veloweb.filemodes import write_private
from veloweb.processes import free_port, port_in_use, spawn, stop, stop_all, wait_for_http

SAMPLE_CLUSTER_NAME = "sample"
DEFAULT_CLUSTER_NAME = "default"


class Shutdown(Exception):
    """Raised from the SIGTERM/SIGINT handler to unwind into the cleanup code."""


def ensure_admin(data_dir: Path) -> tuple[str, str] | None:
    """Create user `admin` with a random password if no superuser exists; return its credentials."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser("admin", email="", password=password)
    write_private(data_dir / "admin-password.txt", f"admin {password}\n")  # 0600 from the start
    return "admin", password


def register_cluster(name: str, kubeconfig: str, context: str = "") -> Cluster:
    cluster, _ = Cluster.objects.update_or_create(
        name=name, defaults={"kubeconfig_path": kubeconfig, "context": context, "in_cluster": False}
    )
    return cluster


def read_kubeconfig(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def kubeconfig_ready(path: Path) -> bool:
    """True once the file is complete enough to use (the emulator writes it after it listens)."""
    config = read_kubeconfig(path)
    return isinstance(config, dict) and bool(config.get("clusters")) and bool(config.get("contexts"))


WORKER_QUEUES = ("default", "blocks", "notifications")


class Command(BaseCommand):
    help = "Start Redis (embedded), the sample cluster emulator, uvicorn and RQ workers; stop all on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.VELOWEB_HOST)
        parser.add_argument("--port", type=int, default=settings.VELOWEB_PORT)
        parser.add_argument("--workers", type=int, default=settings.VELOWEB_WORKERS)

    def handle(self, *args, host, port, workers, **options):
        data_dir = Path(settings.DATA_DIR)
        if port_in_use(host, port):
            raise CommandError(f"{host}:{port} is already in use; set VELOWEB_PORT to another port.")

        call_command("migrate", interactive=False, verbosity=0)
        created = ensure_admin(data_dir)
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Created admin user '{created[0]}' with password: {created[1]}")
                + f"\n(also saved in {data_dir / 'admin-password.txt'}; change it in the admin)"
            )

        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", "veloweb.settings")
        env["VELOWEB_DATA_DIR"] = str(data_dir)
        env["PYTHONUNBUFFERED"] = "1"
        python = sys.executable
        base_dir = Path(settings.BASE_DIR)

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum, frame):
            raise Shutdown(signal.Signals(signum).name)

        with contextlib.ExitStack() as stack:
            for sig in previous:
                signal.signal(sig, on_signal)
            stack.callback(self._restore_signals, previous)
            try:
                if not os.environ.get("REDIS_URL"):
                    redis_server = stack.enter_context(self._embedded_redis(data_dir))
                    env["REDIS_URL"] = redis_server.url
                    self.stdout.write(f"Embedded Redis (pid {redis_server.pid}) at {redis_server.url}")

                self._default_cluster(stack, env, python, base_dir, data_dir)
                connections.close_all()

                web = spawn(
                    [
                        python,
                        "-m",
                        "uvicorn",
                        "veloweb.asgi:application",
                        "--host",
                        host,
                        "--port",
                        port,
                        "--lifespan",
                        "off",
                    ],
                    env=env,
                    cwd=base_dir,
                )
                stack.callback(stop, web)
                worker_procs = [
                    # notifications: retried with a backoff, which RQ's scheduler (in the worker) runs
                    spawn(
                        [python, "manage.py", "rqworker", *WORKER_QUEUES, "--with-scheduler"],
                        env=env,
                        cwd=base_dir,
                    )
                    for _ in range(workers)
                ]
                stack.callback(stop_all, worker_procs)  # runs before uvicorn's stop (LIFO)
                # admits queued backups and re-queues what a dead worker or a restarted Redis lost
                watchdog = spawn([python, "manage.py", "backup_watchdog"], env=env, cwd=base_dir)
                stack.callback(stop, watchdog)
                # enqueues the schedule tick and expiry (RQ's CronScheduler); the workers run them
                cron = spawn([python, "manage.py", "run_cron"], env=env, cwd=base_dir)
                stack.callback(stop, cron)

                url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
                wait_for_http(url + "accounts/login/", web, timeout=60)
                self.stdout.write(
                    self.style.SUCCESS(f"Veloweb is running at {url}")
                    + f" ({workers} RQ workers). Press Ctrl-C to stop."
                )
                self._watch([web, watchdog, cron, *worker_procs])
            except Shutdown as exc:
                self.stdout.write(f"Received {exc}, stopping…")
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stdout.write("Stopped.")

    def _watch(self, procs):
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    raise CommandError(
                        f"{' '.join(proc.args[:4])} (pid {proc.pid}) exited with {proc.returncode}"
                    )
            time.sleep(0.5)

    @staticmethod
    def _restore_signals(previous):
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    @staticmethod
    def _embedded_redis(data_dir: Path) -> EmbeddedRedis:
        directory = data_dir / "redis"
        if len(str(directory / "redis.sock")) > MAX_SOCKET_PATH:
            directory = None  # a short temporary directory instead
        return EmbeddedRedis(directory)

    def _default_cluster(self, stack, env, python, base_dir: Path, data_dir: Path) -> None:
        if settings.VELOWEB_KUBECONFIG:
            name = settings.VELOWEB_KUBE_CONTEXT or DEFAULT_CLUSTER_NAME
            register_cluster(name, settings.VELOWEB_KUBECONFIG, settings.VELOWEB_KUBE_CONTEXT)
            self.stdout.write(f"Registered cluster '{name}' from {settings.VELOWEB_KUBECONFIG}")
            return
        manifests = base_dir / "emulator" / "sample_cluster"
        if not manifests.is_dir():
            self.stderr.write(
                self.style.WARNING(
                    f"No {manifests}: not starting the sample cluster (set VELOWEB_KUBECONFIG)."
                )
            )
            return
        kubeconfig = data_dir / "sample-kubeconfig.yaml"
        kubeconfig.unlink(missing_ok=True)
        log = data_dir / "emulator.log"
        log.unlink(missing_ok=True)
        emulator = spawn(
            [
                python,
                "-m",
                "emulator",
                "--manifests",
                manifests,
                "--port",
                free_port(),
                "--kubeconfig-out",
                kubeconfig,
            ],
            env=env,
            cwd=base_dir,
            log=log,
        )
        stack.callback(stop, emulator)
        deadline = time.monotonic() + 30
        while not kubeconfig_ready(kubeconfig):
            if emulator.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace") if log.exists() else ""
                raise CommandError(f"the Kubernetes emulator did not start (log {log}):\n{output}")
            time.sleep(0.1)
        register_cluster(
            SAMPLE_CLUSTER_NAME, str(kubeconfig), read_kubeconfig(kubeconfig).get("current-context") or ""
        )
        cluster = Cluster.objects.get(name=SAMPLE_CLUSTER_NAME)
        self.stdout.write(
            f"Kubernetes emulator (pid {emulator.pid}) serving the sample cluster at {cluster.server_url()}"
        )
