"""`tgc.initializers`: the TF1 initializer classes under their short names (`tf.initializers.*`)."""

from tgc.frontend.initializers import (  # noqa: F401
    Constant as constant,
    GlorotNormal as glorot_normal,
    GlorotUniform as glorot_uniform,
    Ones as ones,
    RandomNormal as random_normal,
    RandomUniform as random_uniform,
    TruncatedNormal as truncated_normal,
    VarianceScaling as variance_scaling,
    Zeros as zeros,
)
