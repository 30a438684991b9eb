"""RestoreResults: Velero's results document per namespace, the resource list's words, and one
document assembled from the parts several workers hand in (`as_json` / `merge`)."""

import threading

from backups.engine.restore import RestoreResults
from backups.engine.restore.results import CREATED, FAILED, SKIPPED


def test_results_are_filed_as_velero_files_them():
    results = RestoreResults()
    results.warn("shop", "w1")
    results.warn("", "cluster warning")
    results.error(None, "velero error")
    results.error("a", "e1")
    assert results.results_json() == {
        "warnings": {"velero": [], "cluster": ["cluster warning"], "namespaces": {"shop": ["w1"]}},
        "errors": {"velero": ["velero error"], "cluster": [], "namespaces": {"a": ["e1"]}},
    }
    assert results.phase() == "PartiallyFailed" and results.warning_count == 2 and results.error_count == 2
    assert RestoreResults().phase() == "Completed"


def test_resource_list_and_merging_parts():
    whole = RestoreResults()
    parts = [RestoreResults() for _ in range(4)]

    def work(part, n):
        for i in range(200):
            part.item("v1", "ConfigMap", "shop", f"cm-{n}-{i:03d}", CREATED if i % 2 else SKIPPED)
        part.warn("shop", f"part {n}")

    threads = [threading.Thread(target=work, args=(p, n)) for n, p in enumerate(parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for part in parts:
        whole.merge(part.as_json())
    whole.item("apps/v1", "Deployment", "shop", "web", FAILED)
    listed = whole.resource_list()
    assert list(listed) == ["apps/v1/Deployment", "v1/ConfigMap"]
    assert len(listed["v1/ConfigMap"]) == 800 and listed["v1/ConfigMap"][:2] == [
        "shop/cm-0-000(skipped)",
        "shop/cm-0-001(created)",
    ]
    assert whole.counts() == {"created": 400, "skipped": 400, "failed": 1}
    assert sorted(whole.results_json()["warnings"]["namespaces"]["shop"]) == [f"part {n}" for n in range(4)]
