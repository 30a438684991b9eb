"""Item keys: the one place that says what a core pod and a core claim are."""

from backups.engine.items import ItemKey


def test_a_core_pod_and_a_core_claim_are_told_from_custom_resources_of_the_same_name():
    pod = ItemKey("", "v1", "pods", "shop", "web-0")
    claim = ItemKey("", "v1", "persistentvolumeclaims", "shop", "data-web-0")
    metrics_pod = ItemKey("metrics.k8s.io", "v1beta1", "pods", "shop", "web-0")
    assert (pod.is_pod, pod.is_claim) == (True, False)
    assert (claim.is_pod, claim.is_claim) == (False, True)
    assert not metrics_pod.is_pod and not metrics_pod.is_claim
