"""TF1's ``tensorflow.examples.tutorials``: the MNIST reader its tutorials use."""
