"""Spooling: each planned item points at its object as collected, for block jobs to read back."""

from backups.engine.log import BackupLog
from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.spec import BackupSpec
from backups.engine.planning.spool import Spool, SpoolReader
from tests.engine.objects import configmap, namespace, pod, priority_class, pv, pvc


def test_every_planned_item_reads_back_as_the_object_collected(tmp_path):
    objects = [
        namespace("shop"),
        pod("shop", "web", ["data"], priority_class="high"),
        pvc("shop", "data", "pv-1"),
        pv("pv-1"),
        priority_class("high"),
        configmap("shop", "b"),
        configmap("shop", "a"),
    ]
    source = ManifestSource(objects)
    with Spool(str(tmp_path / "spool")) as spool:
        plan = plan_item_blocks(
            source,
            BackupSpec(included_namespaces=["shop"], ordered_resources={"configmaps": ["shop/b"]}),
            BackupLog(),
            spool=spool,
        )
    with SpoolReader(str(tmp_path / "spool")) as reader:
        for block in plan.blocks:
            for item in block.items:
                assert item.offset >= 0, item
                obj = reader.get(item.offset, item.length)
                info = source.resources().by_group_resource(item.key.group_resource)
                assert obj == source.get(info, item.key.namespace or None, item.key.name)
    # the priority class and volume were fetched live (cluster scope is not collected here) and spooled too
    names = [str(i.key) for b in plan.blocks for i in b.items]
    assert "priorityclasses.scheduling.k8s.io high" in names and "persistentvolumes pv-1" in names


def test_without_a_spool_items_carry_no_location():
    plan = plan_item_blocks(ManifestSource([namespace("a"), configmap("a", "c")]), BackupSpec(), BackupLog())
    assert all(item.offset == -1 for block in plan.blocks for item in block.items)
