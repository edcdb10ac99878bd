#!/usr/bin/env bash
# The nvptx target on a real GPU: registry op checks and timings against PyTorch CUDA.
#
#   benchmarks/gpu_check.sh prepare [DIR]      here (tgc and MLIR installed): compiles every case
#                                              with `tgc compile --target nvptx` into DIR and copies
#                                              tgc/runtime there (default DIR: build/gpu_check)
#   benchmarks/gpu_check.sh run [DIR] [OUT]    on the GPU machine (numpy, cuda-bindings, PyTorch; no
#                                              MLIR, no tgc install): runs and times what DIR holds,
#                                              writes gpu_check.json and gpu_check.md under OUT
#                                              (default: $OUT, else DIR/results)
#
# See benchmarks/gpu_check.py for what is checked and timed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="${1:-run}"
dir="${2:-$here/../build/gpu_check}"

case "$mode" in
  prepare)
    exec python "$here/gpu_check.py" prepare "$dir"
    ;;
  run)
    if [ ! -f "$dir/cases.json" ]; then
      echo "gpu_check: $dir holds no prepared cases: run '$0 prepare $dir' where tgc is installed" >&2
      exit 2
    fi
    # Only the copied runtime: the GPU machine has no MLIR, and tgc's package root would need it.
    export PYTHONPATH="$dir/python${PYTHONPATH:+:$PYTHONPATH}"
    if ! python3 -c "import jsonschema" 2>/dev/null; then
      export PYTHONPATH="$PYTHONPATH:$dir/pydeps"
    fi
    python3 -c "import tgc.runtime.gpu_artifact, jsonschema" || {
      echo "gpu_check: the copied runtime (or jsonschema) does not import from $dir" >&2
      exit 2
    }
    exec python3 "$here/gpu_check.py" run "$dir" ${3:+"$3"}
    ;;
  *)
    echo "usage: $0 prepare|run [DIR] [OUT]" >&2
    exit 2
    ;;
esac
