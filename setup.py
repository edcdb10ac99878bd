"""Builds tgc's one C extension, the runtime's call path (tgc/runtime/_fastcall.c); everything else
is declared in pyproject.toml. The extension is optional: without a compiler the runtime's
pure-Python path runs the same compiled code."""

import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tgc.runtime._fastcall",
            ["tgc/runtime/_fastcall.c"],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_TARGET_VERSION", "NPY_2_0_API_VERSION")],
            optional=True,
        )
    ]
)
