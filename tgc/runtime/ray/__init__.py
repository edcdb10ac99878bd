"""Runs the partitions of a graph on a Ray cluster: one actor per task (``/job:NAME/task:K``).

tgc's local runner (tgc/runtime/partitioned.py) runs each device's partition on a thread of the
client. Here each task of a cluster is a Ray actor in a process of its own: the client compiles the
partitions into one shared library (tgc/driver/cluster.py), every task loads it with ctypes (no
MLIR in the actors), and a step runs each task's partition in its actor, Send/Recv carried between
actors by Ray (small tensors inline in the call, large ones through the shared-memory object store)
under per-step rendezvous keys. Variables live in the actor of their task between steps.

- ``local.LocalRayCluster``: starts a Ray cluster on loopback for a ClusterSpec and one actor per
  task; stops everything it started (``close``, and at exit).
- ``task.TaskActor``: the actor (libraries, variables, the mailbox of received tensors).
- ``run.ClusterRun``: the client side of one compiled run, called as the local runner is.

Ray is optional: nothing imports this package unless a Session is given a cluster's target.
"""
