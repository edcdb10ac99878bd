"""``tf.test``: TF1's test helpers that programs use outside tests (a local cluster)."""

from tgc.frontend.cluster import create_local_cluster

__all__ = ["create_local_cluster"]
