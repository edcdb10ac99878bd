"""The TF1 graph API behind ``import tgc as tf``: ops, Variables, Session, gradients, optimizers."""
