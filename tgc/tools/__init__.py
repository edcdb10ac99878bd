"""Command-line tools: ``tgc opt`` (the pass driver the lit tests run) and ``tgc dialect``.

They sit outside the compile path: they read and print MLIR text, and drive the same passes and
pipelines (tgc/passes) that ``Session.run`` uses, so any compile can be replayed step by step.
"""
