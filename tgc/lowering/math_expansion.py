"""Which math ops the host's code expands into arith before the libm calls (MLIR's
math-expand-ops), shared by the CPU target and the GPU's kernels emulated on the host.

Every op math-expand-ops expands by default except ``powf``: its expansion, exp(y * log(x)), is
NaN for any negative x, where C's pow (numpy's and TensorFlow's) gives (-2)^3 = -8 and
(-1)^-1 = -1; left alone it becomes libm's pow/powf (convert-math-to-libm).
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
    "sinh",
    "tan",
    "tanh",
)

EXPAND_MATH = "func.func(math-expand-ops{ops=" + ",".join(EXPANDED_MATH_OPS) + "})"
