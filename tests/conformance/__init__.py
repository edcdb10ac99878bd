"""tgc's conformance suite: random small graphs drawn from the op registry, run through every path.

``generator`` draws graphs (plain data, reproducible by seed or by hypothesis),
``reference`` computes their values and gradients in numpy, ``checks`` builds them in tgc on
a target and compares. The long campaign (``benchmarks/random_graphs.py``) runs the same
code over thousands of seeds.
"""
