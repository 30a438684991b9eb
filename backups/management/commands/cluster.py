"""`manage.py cluster add|list|remove`: register the clusters backups read from."""

from django.core.management.base import BaseCommand, CommandError

from backups.models import Cluster


class Command(BaseCommand):
    help = "Register, list and remove Kubernetes clusters."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register (or update) a cluster")
        add.add_argument("name")
        add.add_argument(
            "--kubeconfig", default="", help="kubeconfig path (default loading rules when empty)"
        )
        add.add_argument("--context", default="")
        add.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
        add.add_argument("--check", action="store_true", help="connect and read discovery before saving")
        sub.add_parser("list")
        remove = sub.add_parser("remove")
        remove.add_argument("name")

    def handle(self, *args, action, **options):
        if action == "add":
            cluster = Cluster(
                name=options["name"],
                kubeconfig_path=options["kubeconfig"],
                context=options["context"],
                in_cluster=options["in_cluster"],
            )
            if options["check"]:
                try:
                    count = len(cluster.connect().resources())
                except Exception as error:  # noqa: BLE001 - any connection problem, in one line
                    raise CommandError(f"cannot reach cluster {cluster.name}: {error}") from None
                self.stdout.write(f"{cluster.name}: {count} resources served")
            Cluster.objects.update_or_create(
                name=cluster.name,
                defaults={
                    "kubeconfig_path": cluster.kubeconfig_path,
                    "context": cluster.context,
                    "in_cluster": cluster.in_cluster,
                },
            )
            self.stdout.write(f"Cluster {cluster.name} registered.")
        elif action == "list":
            for cluster in Cluster.objects.all():
                where = (
                    "in cluster" if cluster.in_cluster else cluster.server_url() or cluster.kubeconfig_path
                )
                self.stdout.write(f"{cluster.name:30} {where}")
        else:
            deleted, _ = Cluster.objects.filter(name=options["name"]).delete()
            if not deleted:
                raise CommandError(f"no cluster named {options['name']!r}")
            self.stdout.write(f"Cluster {options['name']} removed.")
