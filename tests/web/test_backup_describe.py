"""`velero backup describe`'s content on the backup page: the spec asked for and the status fields."""

from __future__ import annotations

from backups.backup_describe import describe
from backups.models import Backup

HOOKS = {
    "resources": [
        {
            "name": "freeze",
            "includedNamespaces": ["shop"],
            "labelSelector": {"matchLabels": {"app": "db"}},
            "pre": [
                {"exec": {"container": "db", "command": ["/bin/fsfreeze", "-f", "/data"], "onError": "Fail"}}
            ],
            "post": [{"exec": {"command": ["/bin/fsfreeze", "-u", "/data"], "timeout": "1m"}}],
        }
    ]
}


def rows(backup) -> dict[str, dict[str, str]]:
    return {section.title: dict(section.rows) for section in describe(backup)}


def test_describe_has_the_spec_and_the_status(make_backup):
    backup = make_backup(
        "described-1", phase=Backup.Phase.COMPLETED, included_namespaces=["shop", "pay*"],
        excluded_resources=["events"], include_cluster_resources=False, label_selector="app=web",
        or_label_selectors=["tier=a", "tier=b"], ttl="24h0m0s", workers=8, snapshot_volumes=False,
        csi_snapshot_timeout="5m0s", hooks=HOOKS, total_items=40, items_backed_up=39, errors=1,
        hooks_attempted=2, hooks_failed=1,
    )  # fmt: skip
    found = rows(backup)
    assert found["Namespaces"] == {"Included": "shop, pay*", "Excluded": "<none>"}
    assert found["Resources"] == {"Included": "*", "Excluded": "events", "Cluster-scoped": "excluded"}
    assert found["Selection"]["Label selector"] == "app=web"
    assert found["Selection"]["Or label selector"] == "tier=a or tier=b"
    storage = found["Storage and snapshots"]
    assert (
        storage["TTL"] == "24h0m0s" and storage["Workers"] == "8" and storage["CSISnapshotTimeout"] == "5m0s"
    )
    assert storage["Velero-Native Snapshot PVs"] == "false" and storage["Storage Location"] == "default"
    hook = found["Hook freeze"]
    assert hook["Namespaces included"] == "shop" and hook["Label selector"] == "app=db"
    assert hook["Pre Exec Hook"] == "container db · /bin/fsfreeze -f /data · on error Fail · timeout 30s"
    assert (
        hook["Post Exec Hook"]
        == "container (first) · /bin/fsfreeze -u /data · on error Continue · timeout 1m"
    )
    status = found["Status"]
    assert status["Phase"] == "Completed" and status["Backup Format Version"] == "1.1.0"
    assert status["Total items to be backed up"] == "40" and status["Items backed up"] == "39"
    assert status["HooksAttempted"] == "2" and status["HooksFailed"] == "1"
    assert status["Backup Volumes"] == "<none included>" and status["Errors"] == "1"


def test_scoped_filters_are_described_as_velero_does(make_backup):
    backup = make_backup("scoped-1", included_cluster_scoped_resources=["storageclasses"])
    resources = rows(backup)["Resources"]
    assert resources["Included cluster-scoped"] == "storageclasses"
    assert resources["Included namespace-scoped"] == "*"
    assert rows(backup)["Hooks"] == {"Hooks": "<none>"}


def test_the_backup_page_shows_it(client_as, make_backup):
    backup = make_backup(
        "described-2", phase=Backup.Phase.COMPLETED, included_namespaces=["shop"], ttl="48h0m0s"
    )
    html = client_as("viewer").get(f"/backups/{backup.pk}/").content.decode()
    assert 'id="describe"' in html and "<dt>TTL</dt><dd>48h0m0s</dd>" in html
    assert "<dt>Included</dt><dd>shop</dd>" in html and "<dt>Backup Format Version</dt>" in html
