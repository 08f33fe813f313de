"""The tree follows the mail's path: no stage imports a later one, and no import goes round in a circle.

Stages, in the order mail moves (README, "Layout"): ``mail`` (the shared
vocabulary) < ``receive`` < ``read`` < ``detect`` < ``judge`` < ``config``
< ``store`` < ``dispose`` < ``review`` < ``deliver``; then the top, which
composes them and which no stage imports: ``app``, ``evaluation``, ``web``,
``cli``. Imports under ``if TYPE_CHECKING:`` never run and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gateway"
STAGES = [
    "mail",
    "receive",
    "read",
    "detect",
    "judge",
    "config",
    "store",
    "dispose",
    "review",
    "deliver",
]
TOP = ["app", "evaluation", "web", "cli"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    """gateway.* modules imported when the file runs (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import | ast.ImportFrom) and not (
            module_level_only and in_function
        ):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                if name.startswith("gateway"):
                    found.add(name)
                    # "from gateway.web import markup" imports the submodule too
                    if isinstance(node, ast.ImportFrom):
                        found.update(
                            f"{name}.{a.name}"
                            for a in node.names
                            if (PACKAGE.parent / f"{name}.{a.name}".replace(".", "/"))
                            .with_suffix(".py")
                            .exists()
                            or (PACKAGE.parent / f"{name}.{a.name}".replace(".", "/")).is_dir()
                        )
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_belongs_to_a_stage_or_the_top():
    homeless = [
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        if module_name(p) != "gateway" and stage(module_name(p)) not in STAGES + TOP
    ]
    assert not homeless, (
        f"modules outside the layout: {homeless} (add them to a stage, or the README's layout)"
    )


def test_no_stage_imports_a_later_stage_or_the_top():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        importer = module_name(path)
        if stage(importer) not in STAGES:
            continue
        for imported in runtime_imports(path):
            s = stage(imported)
            if s in TOP or (s in STAGES and STAGES.index(s) > STAGES.index(stage(importer))):
                wrong.append(f"{importer} imports {imported}")
    assert not wrong, "imports against the mail's path:\n" + "\n".join(sorted(wrong))


def test_the_vocabulary_and_the_edge_import_nothing_later():
    assert not runtime_imports(PACKAGE / "mail.py")
    for path in (PACKAGE / "receive").rglob("*.py"):
        assert {stage(m) for m in runtime_imports(path)} <= {"mail", "receive"}, path


def test_no_circular_module_imports():
    graph = {
        module_name(p): {m for m in runtime_imports(p, module_level_only=True)}
        for p in PACKAGE.rglob("*.py")
    }
    # A package imports its own __init__ first; an import of a name from a
    # package is an edge to the package module itself.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt == node:
                continue
            if node.startswith(
                nxt + "."
            ):  # a submodule importing its own package: Python allows it
                continue
            if state.get(nxt) == 1:
                cycles.append([*trail, node, nxt])
            elif nxt not in state:
                dfs(nxt, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            dfs(module, [])
    assert not cycles, "circular imports:\n" + "\n".join(" -> ".join(c) for c in cycles)
