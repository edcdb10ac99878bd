"""Which math ops the host's code expands into arith before the libm calls (MLIR's
math-expand-ops), shared by the CPU target and the GPU's kernels emulated on the host.

Every op math-expand-ops expands by default except three, which become libm's functions
(convert-math-to-libm), as numpy's and TensorFlow's are: ``powf``, whose expansion exp(y * log(x))
is NaN for any negative x where C's pow gives (-2)^3 = -8 and (-1)^-1 = -1; ``tanh`` and ``sinh``,
whose expansions through exp cancel for small x (tanh(1e-7) in float32 was 8.9e-8, sinh 1.2e-7;
below about 1e-11 both were 0, millions of ulps off).
"""

from __future__ import annotations

EXPANDED_MATH_OPS = (
    "acosh",
    "asinh",
    "atanh",
    "ceil",
    "cosh",
    "ctlz",
    "exp2",
    "fma",
    "fpowi",
    "round",
    "roundeven",
    "rsqrt",
    "tan",
)

EXPAND_MATH = "func.func(math-expand-ops{ops=" + ",".join(EXPANDED_MATH_OPS) + "})"
