"""Which TF1 names do public tutorial programs use, and which of them does tgc lack?

Reads every ``.py`` file and notebook under the given folders (clones of tutorial repositories),
keeps the TF1 programs (those that build graphs: ``tf.Session``, ``tf.placeholder``,
``tf.get_variable``, ...), collects every ``tf.a.b.c`` name they use (``tf`` being whatever name
``tensorflow`` or ``tensorflow.compat.v1`` is imported as; ``from tensorflow.a import b`` counts
as ``tf.a.b``) and looks each one up in ``tgc``. A name is missing when the lookup fails at some
module or class on its way; the shortest missing prefix is what is reported (``tf.contrib.slim``
for ``tf.contrib.slim.conv2d``). The reason shown is tgc's own (tgc/frontend/unsupported.py), the
text a program gets when it touches the name.

    git clone https://github.com/aymericdamien/TensorFlow-Examples tutorials/TensorFlow-Examples
    ...
    python benchmarks/tf1_api_survey.py tutorials/* --markdown survey.md

Tokens, not an AST: many of these programs are Python 2 (``print x``), which ``ast`` refuses;
names in comments and strings are skipped.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import sys
import token
import tokenize
import types
from dataclasses import dataclass, field
from pathlib import Path

# A program that uses one of these builds a TF1 graph (TF2-only programs are not surveyed).
TF1_MARKERS = (
    "Session",
    "InteractiveSession",
    "placeholder",
    "get_variable",
    "global_variables_initializer",
    "initialize_all_variables",
    "variable_scope",
)


@dataclass
class Program:
    path: Path
    repo: str
    names: set = field(default_factory=set)


def notebook_source(text: str) -> str:
    """The code cells of a notebook, without IPython's magics and shell lines."""
    cells = json.loads(text).get("cells", [])
    lines = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", [])
        source = "".join(source) if isinstance(source, list) else source
        lines += [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!", "?"))]
    return "\n".join(lines) + "\n"


def program_source(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        return notebook_source(text) if path.suffix == ".ipynb" else text
    except (OSError, ValueError):
        return None


def _tokens(source: str) -> list:
    """The source's NAME and '.' tokens with line breaks kept; stops quietly at a tokenizer error
    (a broken notebook cell), keeping what came before."""
    kept = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (token.NAME, token.OP, token.NEWLINE, token.NL):
                kept.append(tok)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return kept


def _dotted_runs(tokens: list) -> list:
    """Every maximal run NAME (. NAME)* as a list of names."""
    runs, current, expect_name = [], [], True
    for tok in tokens:
        if tok.type == token.NAME and expect_name:
            current.append(tok.string)
            expect_name = False
        elif tok.type == token.OP and tok.string == "." and current and not expect_name:
            expect_name = True
        else:
            if current:
                runs.append(current)
            current, expect_name = ([tok.string], False) if tok.type == token.NAME else ([], True)
    if current:
        runs.append(current)
    return runs


def _statement_runs(tokens: list) -> list:
    """The tokens split into logical lines (for the import forms)."""
    lines, current = [], []
    for tok in tokens:
        if tok.type in (token.NEWLINE, token.NL):
            if current:
                lines.append(current)
            current = []
        else:
            current.append(tok.string)
    if current:
        lines.append(current)
    return lines


def _tf_aliases_and_imports(tokens: list) -> tuple:
    """(names tensorflow is bound to, names imported with ``from tensorflow... import``)."""
    aliases, imported = set(), set()
    for words in _statement_runs(tokens):
        text = " ".join(words).replace(" . ", ".")
        parts = text.split()
        if parts[:1] == ["import"] and len(parts) >= 2 and parts[1].startswith("tensorflow"):
            module = parts[1]
            if len(parts) >= 4 and parts[2] == "as":
                if module in ("tensorflow", "tensorflow.compat.v1"):
                    aliases.add(parts[3])
                else:
                    imported.add("tf" + module[len("tensorflow") :])
            elif module == "tensorflow":
                aliases.add("tensorflow")
        elif parts[:1] == ["from"] and len(parts) >= 4 and parts[1].startswith("tensorflow"):
            module = "tf" + parts[1][len("tensorflow") :].replace(".compat.v1", "", 1)
            for name in " ".join(parts[3:]).replace(",", " ").replace("(", " ").split():
                if name not in ("as", ")") and name.isidentifier():
                    imported.add(f"{module}.{name}")
    return aliases, imported


def names_of(source: str) -> set | None:
    """The ``tf.*`` names a TF1 program uses, or None when it is not a TF1 program."""
    tokens = _tokens(source)
    aliases, names = _tf_aliases_and_imports(tokens)
    if not aliases and not names:
        return None
    for run in _dotted_runs(tokens):
        if run[0] in aliases and len(run) > 1:
            names.add(".".join(["tf", *run[1:]]))
    tails = {n.split(".")[-1] for n in names} | {n.split(".")[1] for n in names if "." in n}
    return names if any(marker in tails for marker in TF1_MARKERS) else None


def missing_prefix(name: str, root) -> str | None:
    """The shortest prefix of ``name`` that ``root`` lacks, looked up through modules and
    classes; None when present (or when the walk reaches a value, whose attributes are data)."""
    parts = name.split(".")
    obj = root
    for i, part in enumerate(parts[1:], start=1):
        if not isinstance(obj, (types.ModuleType, type)):
            return None
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return ".".join(parts[: i + 1])
        except Exception:  # noqa: BLE001 - a name whose lookup fails otherwise is present
            return None
    return None


def survey(folders: list, root) -> tuple:
    """(TF1 programs surveyed, {missing name: [programs using it]})."""
    programs, missing = [], collections.defaultdict(list)
    for folder in folders:
        folder = Path(folder)
        for path in sorted([*folder.rglob("*.py"), *folder.rglob("*.ipynb")]):
            source = program_source(path)
            names = names_of(source) if source is not None else None
            if names is None:
                continue
            program = Program(path, folder.name, names)
            programs.append(program)
            for name in {m for m in (missing_prefix(n, root) for n in names) if m}:
                missing[name].append(program)
    return programs, missing


def reason_of(name: str) -> str:
    from tgc.frontend.unsupported import REASONS

    while name:
        if name in REASONS:
            return REASONS[name]
        name = name.rpartition(".")[0]
    return "not in tgc yet"


def report(programs: list, missing: dict, min_programs: int) -> str:
    covered = sum(1 for p in programs if not any(p in users for users in missing.values()))
    repos = sorted({p.repo for p in programs})
    lines = [
        f"TF1 programs surveyed: {len(programs)} in {len(repos)} repositories "
        f"({', '.join(repos)}).",
        f"Programs whose every tf name tgc has: {covered} of {len(programs)}.",
        "",
        "| missing name | programs | repositories | why |",
        "| --- | --- | --- | --- |",
    ]
    ranked = sorted(missing.items(), key=lambda item: (-len(item[1]), item[0]))
    for name, users in ranked:
        if len(users) < min_programs:
            continue
        repo_count = len({p.repo for p in users})
        lines.append(f"| `{name}` | {len(users)} | {repo_count} | {reason_of(name)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="clones of TF1 tutorial repositories")
    parser.add_argument("--markdown", help="write the table here as well")
    parser.add_argument(
        "--min-programs", type=int, default=1, help="list names used by at least this many"
    )
    args = parser.parse_args(argv)
    import tgc

    programs, missing = survey(args.folders, tgc)
    text = report(programs, missing, args.min_programs)
    sys.stdout.write(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
