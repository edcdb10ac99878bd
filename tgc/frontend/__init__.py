"""The TF1 graph API behind ``import tgc as tf``: ops, Variables, Session, gradients, optimizers.

It builds graphs (tgc/graph) and calls the driver (tgc/driver) to compile and run them.
"""
