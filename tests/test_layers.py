"""Imports go one way through the layers, and no modules import each other in a cycle.

Layers, low to high: errors, clock, loops and x_length < core < speech | devices | posting
(which never import each other) < service < tryout < cli. Every import counts, also one
inside a function or under TYPE_CHECKING: a late import hides a cycle from Python, not from
a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "appliance"

# Each part of the package and its height; a part imports only parts lower than itself
# (and its own modules). Parts of one height are siblings: they never import each other.
LAYERS = {
    "appliance": 0,  # the package's __init__: the version only
    "appliance.errors": 0,
    "appliance.loops": 0,  # the thread loops' waits
    "appliance.clock": 0,
    "appliance.x_length": 0,
    "appliance.core": 1,
    "appliance.speech": 2,
    "appliance.devices": 2,
    "appliance.posting": 2,
    "appliance.service": 3,
    "appliance.tryout": 4,
    "appliance.cli": 5,
    "appliance.__main__": 6,
}


def module_names(root: Path) -> dict[str, Path]:
    """Every module under `root` by its dotted name (a package by its __init__)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package `level - 1` steps up
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` imports the module; `from module import name` the module
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside c
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> str:
    """The part of the package `name` belongs to (the longest LAYERS key it falls under)."""
    parts = [key for key in LAYERS if name == key or name.startswith(key + ".")]
    if not parts:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS or move it")
    return max(parts, key=len)


def violations(root: Path) -> list[str]:
    """Every import against the layers, and every cycle, as a sentence."""
    modules = module_names(root)
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        mine = layer_of(name)
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                problems.append(
                    f"{name} ({mine}, layer {LAYERS[mine]}) imports {target} "
                    f"({theirs}, layer {LAYERS[theirs]})"
                )
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, set(group)) for group in groups]


def _path_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A closed path inside `group`, starting at its first module, for the message."""
    start = min(group)
    path, node = [start], start
    while True:
        node = min(target for target in graph[node] if target in group)
        if node in path:
            return path[path.index(node) :] + [node]
        path.append(node)


def test_imports_follow_the_layers_without_cycles():
    problems = violations(PACKAGE)
    assert not problems, "\n".join(problems)


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "appliance"
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("core", "speech", "devices", "service"):
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


def test_an_upward_import_inside_a_function_is_found(tmp_path):
    root = _plant(
        tmp_path,
        {
            "core/step.py": "def f():\n    from appliance.service.config import load\n",
            "service/config.py": "from appliance.core import step\n",
        },
    )
    found = violations(root)
    assert any(
        "appliance.core.step (appliance.core, layer 1) imports appliance.service.config" in problem
        for problem in found
    ), found


def test_siblings_never_import_each_other(tmp_path):
    root = _plant(
        tmp_path, {"speech/link.py": "", "devices/mic.py": "import appliance.speech.link\n"}
    )
    assert violations(root) == [
        "appliance.devices.mic (appliance.devices, layer 2) imports appliance.speech.link "
        "(appliance.speech, layer 2)"
    ]


def test_a_cycle_inside_one_layer_is_found(tmp_path):
    root = _plant(
        tmp_path,
        {
            "core/a.py": "from appliance.core import b\n",
            "core/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from appliance.core.a import Thing\n",
        },
    )
    assert violations(root) == [
        "import cycle: appliance.core.a -> appliance.core.b -> appliance.core.a"
    ]


def test_relative_imports_are_resolved(tmp_path):
    root = _plant(tmp_path, {"core/a.py": "from ..service import d\n", "service/d.py": ""})
    assert violations(root) == [
        "appliance.core.a (appliance.core, layer 1) imports appliance.service.d "
        "(appliance.service, layer 3)"
    ]
