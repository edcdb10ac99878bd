"""The ``tgc`` command line (cli.py gathers the subcommands):

- ``tgc opt``: parse tgc IR (mixed with upstream dialects), verify it, run a pass pipeline, print
  the module; the lit tests drive it (cli.py).
- ``tgc dialect``: print the tgc dialect as IRDL, or list its ops (cli.py).
- ``tgc graph``: pictures of a program's graph after any stage of the graph pipeline (graph_cmd.py).
- ``tgc compile``: ahead-of-time compilation of tgc IR or a Python program to an artifact or any
  intermediate stage (compile_cmd.py).
- ``tgc run`` and ``tgc inspect``: call a compiled artifact, show its signature (compile_cmd.py).

common.py holds what they share; isolation.py runs MLIR work in a forked child, so that MLIR
aborting on an input is one error line. The tools drive the same passes, pipelines and driver
(tgc/driver) that ``Session.run`` uses, so any compile can be replayed step by step.
"""
