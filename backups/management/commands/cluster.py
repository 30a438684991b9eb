"""`manage.py cluster add|check|list|remove`: register the clusters backups read from."""

from django.core.management.base import BaseCommand, CommandError

from backups.audit_context import acting_as
from backups.models import Cluster
from backups.services.audit import cli_actor
from backups.services.clusters import check_cluster, cluster_problem, cluster_remove, cluster_save


class Command(BaseCommand):
    help = "Register, check, list and remove Kubernetes clusters."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register (or update) a cluster, once it answers")
        add.add_argument("name")
        add.add_argument(
            "--kubeconfig", default="", help="kubeconfig path (default loading rules when empty)"
        )
        add.add_argument("--context", default="")
        add.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
        add.add_argument("--check", action="store_true", help="(the default) check before saving")
        add.add_argument(
            "--no-check", action="store_true", help="register without checking (e.g. a cluster not up yet)"
        )
        check = sub.add_parser("check", help="check a registered cluster and record its status")
        check.add_argument("name")
        sub.add_parser("list")
        remove = sub.add_parser("remove")
        remove.add_argument("name")

    def handle(self, *args, action, **options):
        with acting_as(cli_actor()):
            return getattr(self, f"_{action}")(**options)

    def _add(self, name, kubeconfig, context, in_cluster, no_check, **_):
        cluster = Cluster.objects.filter(name=name).first() or Cluster(name=name)
        cluster.kubeconfig_path, cluster.context, cluster.in_cluster = kubeconfig, context, in_cluster
        if not no_check:
            problem = cluster_problem(cluster)
            if problem:
                raise CommandError(f"cannot reach cluster {name}: {problem} (nothing saved)")
        cluster_save(cluster)
        if not no_check:
            check_cluster(cluster)
        self.stdout.write(f"Cluster {name} registered.")

    def _check(self, name, **_):
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}")
        problem = check_cluster(cluster)
        if problem:
            raise CommandError(f"cluster {name} is unreachable: {problem}")
        self.stdout.write(f"Cluster {name} is reachable.")

    def _list(self, **_):
        for cluster in Cluster.objects.all():
            where = "in cluster" if cluster.in_cluster else cluster.server_url() or cluster.kubeconfig_path
            status = {None: "not checked", True: "reachable", False: "unreachable"}[cluster.available]
            self.stdout.write(f"{cluster.name:30} {status:12} {where}")

    def _remove(self, name, **_):
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}")
        cluster_remove(cluster)
        self.stdout.write(f"Cluster {name} removed.")
