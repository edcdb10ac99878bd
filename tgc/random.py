"""`tgc.random`: TF's newer spellings of the random ops (`tf.random.normal` and friends)."""

from tgc.frontend.random_ops import random_normal as normal  # noqa: F401
from tgc.frontend.random_ops import random_uniform as uniform  # noqa: F401
from tgc.frontend.random_ops import truncated_normal  # noqa: F401
from tgc.frontend.candidate_sampling import (  # noqa: F401
    all_candidate_sampler,
    fixed_unigram_candidate_sampler,
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from tgc.frontend.random_ops import categorical, multinomial  # noqa: F401
