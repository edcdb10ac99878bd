"""The graph core: the dataflow graph a TF1 program builds and its emission to tgc MLIR.

``graph`` holds Graph, Operation, Tensor and their scopes; ``prune`` keeps what a run needs;
``emit`` turns a pruned subgraph into a tgc function; ``default_session`` is the stack of default
sessions that ``Tensor.eval`` and ``Operation.run`` use. It knows no Session and none of the ops the
API builds on it: the API installs the operators, indexing and iteration on Tensor.
"""
