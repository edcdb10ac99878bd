"""The layering of tgc (issue 13): the import-linter contracts of pyproject.toml hold for the tree.

import-linter reads the contracts from pyproject.toml: the layers top to bottom, the runtime without
MLIR, only the tools importing the package root, no import cycle. Imports inside functions count.
The same contracts also run on a small package built here with one deliberate break of each kind,
and must name every one: a contract that silently checked nothing would fail that test.
"""

import os
import re
import subprocess
import sys
import tomllib
from collections import deque
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
PROBE = "probe"  # the package the deliberate breaks are built in


def lint_imports(config: Path, search_path: Path) -> subprocess.CompletedProcess:
    """import-linter's report on `config`'s contracts; packages are found in `search_path` first."""
    env = dict(os.environ, COLUMNS="200")  # rich wraps module names at 80 columns otherwise
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(search_path), env.get("PYTHONPATH")]))
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache", "--no-logo", str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contracts_config(root_package: str) -> str:
    """The [tool.importlinter] tables of pyproject.toml, with `root_package` in place of tgc."""
    text = PYPROJECT.read_text()
    headers = list(re.finditer(r"^\[\[?([^\]]+)\]\]?\s*$", text, flags=re.MULTILINE))
    ends = [header.start() for header in headers[1:]] + [len(text)]
    tables = [
        text[header.start() : end]
        for header, end in zip(headers, ends)
        if header.group(1).startswith("tool.importlinter")
    ]
    return re.sub(r"\btgc\b", root_package, "".join(tables))


def layer_modules(config: str) -> list[str]:
    """Every module the layers contract names (relative to its container), optional ones too."""
    contracts = tomllib.loads(config)["tool"]["importlinter"]["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    return [name.strip(" ()") for layer in layers for name in re.split(r"[|:]", layer)]


def package_cycles(package: str) -> list[str]:
    """Each import cycle among the children of a package inside `package`, as "a -> b -> a".

    import-linter names the imports that would break the cycles; this follows each such import
    back to where it started, so that a failure shows the whole loop.
    """
    graph = grimp.build_graph(package, cache_dir=None)
    cycles = []
    for parent in sorted(graph.modules):
        children = graph.find_children(parent) if not graph.is_module_squashed(parent) else set()
        if len(children) < 2:
            continue
        edges = _imports_between_children(graph, parent, children)
        examples = {}  # one import for each pair of children that closes a cycle
        for importer, imported in sorted(graph.nominate_cycle_breakers(parent)):
            pair = (_child_of(parent, importer), _child_of(parent, imported))
            examples.setdefault(pair, f"{importer} -> {imported}")
        for (start, end), example in examples.items():
            loop = [start, *_shortest_path(edges, end, start)]
            cycles.append(" -> ".join(loop) + f"   (for example {example})")
    return cycles


def _child_of(parent: str, module: str) -> str:
    return ".".join(module.split(".")[: parent.count(".") + 2])


def _imports_between_children(graph, parent: str, children: set[str]) -> dict[str, set[str]]:
    edges = {child: set() for child in children}
    for child in children:
        for module in {child} | graph.find_descendants(child):
            for imported in graph.find_modules_directly_imported_by(module):
                target = _child_of(parent, imported)
                if target in edges and target != child:
                    edges[child].add(target)
    return edges


def _shortest_path(edges: dict[str, set[str]], start: str, goal: str) -> list[str]:
    previous = {start: start}
    queue = deque([start])
    while queue and goal not in previous:
        node = queue.popleft()
        for successor in sorted(edges[node] - previous.keys()):
            previous[successor] = node
            queue.append(successor)
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


@pytest.fixture(scope="module")
def tgc_report() -> subprocess.CompletedProcess:
    return lint_imports(PYPROJECT, REPO)


def test_every_package_of_tgc_is_in_the_import_graph():
    """grimp skips a directory without __init__.py: its imports would be outside every contract."""
    not_packages = [
        str(directory.relative_to(REPO))
        for directory in sorted((REPO / "tgc").rglob("*"))
        if directory.is_dir()
        and any(directory.rglob("*.py"))
        and not (directory / "__init__.py").exists()
    ]
    assert not_packages == [], f"add an __init__.py to: {', '.join(not_packages)}"


def test_the_contracts_apply_to_the_tree(tgc_report):
    """Every contract runs on today's tree."""
    contracts = tomllib.loads(contracts_config("tgc"))["tool"]["importlinter"]["contracts"]
    counts = re.search(r"Contracts: (\d+) kept, (\d+) broken\.", tgc_report.stdout)
    assert counts, tgc_report.stdout + tgc_report.stderr
    assert int(counts.group(1)) + int(counts.group(2)) == len(contracts)


def test_tgc_keeps_its_import_contracts(tgc_report):
    if tgc_report.returncode != 0:
        cycles = "\n".join(package_cycles("tgc"))
        pytest.fail(f"{tgc_report.stdout}{tgc_report.stderr}\nImport cycles:\n{cycles}")


def write_probe_package(root: Path, config: str) -> None:
    """A package with every layer the contracts name, each an empty subpackage, and the
    subpackages the other contracts name."""
    (root / PROBE).mkdir()
    (root / PROBE / "__init__.py").write_text("")
    for module in layer_modules(config) + named_subpackages(config):
        (root / PROBE / module).mkdir(parents=True, exist_ok=True)
        (root / PROBE / module / "__init__.py").write_text("")


def named_subpackages(config: str) -> list:
    """The nested modules (``lowering/to_core``) the contracts name, as paths below the root."""
    contracts = tomllib.loads(config)["tool"]["importlinter"]["contracts"]
    names = {
        name
        for contract in contracts
        for key in ("source_modules", "forbidden_modules", "modules")
        for name in contract.get(key, [])
    }
    nested = [n.split(".", 1)[1] for n in names if n.count(".") >= 2 and "*" not in n]
    return sorted(n.replace(".", "/") for n in nested)


def write_module(root: Path, module: str, source: str) -> None:
    (root / (module.replace(".", "/") + ".py")).write_text(source)


def test_the_contracts_name_each_deliberate_break(tmp_path):
    config = contracts_config(PROBE)
    (tmp_path / "pyproject.toml").write_text(config)
    write_probe_package(tmp_path, config)
    clean = lint_imports(tmp_path / "pyproject.toml", tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    write_module(tmp_path, "probe.dialect.shapes", "from probe.passes import fold\n")
    write_module(tmp_path, "probe.passes.fold", "from probe.passes import dce\n")
    # Imported inside a function, as lazy imports are: it still closes the cycle.
    write_module(tmp_path, "probe.passes.dce", "def run():\n    from probe.passes import fold\n")
    write_module(tmp_path, "probe.runtime.loader", "from mlir import ir\n")
    write_module(tmp_path, "probe.passes.place", "import probe\n")
    write_module(tmp_path, "probe.util", "")
    write_module(tmp_path, "probe.lowering.nvptx.artifact", "from probe.lowering.cpu import jit\n")
    write_module(tmp_path, "probe.lowering.cpu.jit", "")
    broken = lint_imports(tmp_path / "pyproject.toml", tmp_path)
    report = broken.stdout + broken.stderr

    assert broken.returncode == 1, report
    assert "probe.dialect is not allowed to import probe.passes:" in report
    assert "- probe.dialect.shapes -> probe.passes.fold (l.1)" in report
    assert "No cycles are allowed in probe.passes." in report
    assert re.search(r"- \.(dce -> \.fold|fold -> \.dce) \(1 import\)", report), report
    assert "probe.runtime is not allowed to import mlir:" in report
    assert "-   probe.runtime.loader -> mlir (l.1)" in report
    assert "probe.passes.place is not allowed to import probe:" in report
    assert "The following modules are not listed as layers:\n\n- probe.util" in report
    assert "probe.lowering.nvptx is not allowed to import probe.lowering.cpu:" in report

    sys.path.insert(0, str(tmp_path))
    try:
        cycles = package_cycles(PROBE)
    finally:
        sys.path.remove(str(tmp_path))
    assert [cycle.split("   ")[0] for cycle in cycles] in (
        ["probe.passes.dce -> probe.passes.fold -> probe.passes.dce"],
        ["probe.passes.fold -> probe.passes.dce -> probe.passes.fold"],
    )
