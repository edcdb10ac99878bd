"""`tgc.random`: TF's newer spellings of the random ops (`tf.random.normal` and friends)."""

from tgc.frontend.random_ops import random_normal as normal  # noqa: F401
from tgc.frontend.random_ops import random_uniform as uniform  # noqa: F401
from tgc.frontend.random_ops import truncated_normal  # noqa: F401
