"""The import graph of ``raydas/`` is acyclic and flows one way through the layers.

Every module is parsed with the standard library's :mod:`ast` (nothing is
imported), its imports of other raydas modules are collected (module level and
inside functions, relative and absolute, ``TYPE_CHECKING`` blocks included) and
checked against :data:`LAYERS`: a module may import its own layer or a lower
one, never a higher one, and no chain of imports may lead back to where it
started. ``raydas/__init__.py`` and ``raydas/__main__.py`` are the public API:
they may import anything, and nothing inside the package imports them.

A failure names each offending import as ``module:line -> target``.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

from helpers import REPO

PACKAGE = "raydas"

#: The layers, top to bottom: (name, module prefixes). A prefix matches the module itself and everything below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("applications", ("raydas.apps",)),  # the CLI, its console, the demo, distpy's plots
    # running a graph: on Ray (runtime) or here, in this process, for notebooks (inmemory: raydas.process);
    # the catalogue of an archive (its updates scan in Ray tasks)
    ("runtime", ("raydas.runtime", "raydas.inmemory", "raydas.catalogue")),
    ("config", ("raydas.config",)),
    ("pipeline", ("raydas.pipeline", "raydas.recording", "raydas.identity", "raydas.manifest", "raydas.reduction")),
    ("commands", ("raydas.commands",)),
    ("formats", ("raydas.formats",)),
    ("model", ("raydas.chunk", "raydas.geometry")),
    # leaves that know no DAS: errors, time and file-system helpers, the plug-in loader, the array backend, the
    # version; configfile (the one JSON loader: the pipeline, below the config models, reads command lists with
    # it), outputs (the results root's safe paths and sink, which commands write into) and plausible (the
    # validators of numbers that files and configs state)
    (
        "utilities",
        (
            "raydas.errors",
            "raydas.timeutil",
            "raydas.fsutil",
            "raydas.plugins",
            "raydas.backend",
            "raydas.configfile",
            "raydas.outputs",
            "raydas.version",
            "raydas.plausible",
        ),
    ),
)
#: The public API: may import anything; importing it from inside the package is an upward import.
PUBLIC_API = ("raydas", "raydas.__main__")


@dataclass(frozen=True)
class Import:
    """One import of a raydas module by another."""

    module: str  # the importing module, dotted
    line: int  # its line in the importer
    target: str  # the imported module, dotted

    def __str__(self) -> str:
        return f"{self.module}:{self.line} -> {self.target}"


def find_modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every module under ``root`` (the package folder): dotted name -> (file, is a package's ``__init__``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _known(name: str, modules: dict) -> str:
    """The longest prefix of ``name`` that is a module (``import a.b.c`` imports ``a.b.c``, or ``a.b`` if c is
    an attribute)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, path: Path, is_package: bool, modules: dict) -> list[Import]:
    """The raydas modules that ``module`` imports, anywhere in its source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from pkg import sub`` imports the module pkg.sub; ``from pkg import name`` imports pkg
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                target = _known(name, modules)
                if target and target != module:
                    found.append(Import(module, node.lineno, target))
    return list(dict.fromkeys(found))  # ``from x import a, b`` is one import of x


def import_graph(root: Path) -> tuple[dict, list[Import]]:
    """(modules, every intra-package import) of the package folder ``root``."""
    modules = find_modules(root)
    edges = [edge for name, (path, is_pkg) in modules.items() for edge in imports_of(name, path, is_pkg, modules)]
    return modules, edges


def layer_of(module: str) -> int | None:
    """The rank of ``module``'s layer (0 the top; -1 the public API), or None if it is in none."""
    if module in PUBLIC_API:
        return -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _layer_name(rank: int) -> str:
    return "the public API" if rank < 0 else LAYERS[rank][0]


def unplaced_modules(modules: dict) -> list[str]:
    """Modules that belong to no layer (a new module must be given one)."""
    return [m for m in modules if layer_of(m) is None]


def upward_imports(edges: list[Import]) -> list[str]:
    """Each import of a higher layer than the importer's, as text naming module, line, target and layers."""
    problems = []
    for edge in edges:
        low, high = layer_of(edge.module), layer_of(edge.target)
        if low is not None and high is not None and high < low and edge.module not in PUBLIC_API:
            problems.append(f"{edge}  ({_layer_name(low)} imports {_layer_name(high)}, a higher layer)")
    return problems


def import_cycles(edges: list[Import]) -> list[str]:
    """Each cycle of modules (a strongly connected component of two or more) with the imports of one loop in it."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.module, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is small, so recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = [(", ".join(sorted(c)), "; ".join(map(str, _shortest_cycle(c, edges)))) for c in components]
    return [f"cycle among {members}: {path}" for members, path in cycles]


def _shortest_cycle(component: set[str], edges: list[Import]) -> list[Import]:
    """The imports of one shortest cycle through the first module (by name) of a strongly connected ``component``."""
    start = min(component)
    inside = sorted((e for e in edges if e.module in component and e.target in component), key=str)
    came_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:  # breadth first, so the first way back to ``start`` is a shortest one
        following = []
        for node in frontier:
            for edge in (e for e in inside if e.module == node):
                if edge.target == start:
                    path = [edge]
                    while path[0].module != start:
                        path.insert(0, came_by[path[0].module])
                    return path
                if edge.target not in came_by:
                    came_by[edge.target] = edge
                    following.append(edge.target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # cannot happen for a strongly connected component


def check(root: Path) -> list[str]:
    """Every layering problem of the package folder ``root``: unplaced modules, upward imports, cycles."""
    modules, edges = import_graph(root)
    here = "tests/project/test_import_layers.py"
    problems = [f"{m} is in no layer: add it to LAYERS in {here}" for m in unplaced_modules(modules)]
    return problems + upward_imports(edges) + import_cycles(edges)


# --- the package as it is --------------------------------------------------------------------------------------------


def test_raydas_imports_flow_one_way_without_cycles():
    problems = check(Path(REPO) / PACKAGE)
    assert not problems, "import graph problems:\n  " + "\n  ".join(problems)


def test_the_checker_sees_the_imports_that_matter():
    """Guard against a checker that passes because it finds nothing: known edges of each kind are seen."""
    modules, edges = import_graph(Path(REPO) / PACKAGE)
    seen = {(e.module, e.target) for e in edges}
    assert len(modules) > 50
    assert ("raydas.runtime.run", "raydas.runtime.driver") in seen  # relative, module level
    assert ("raydas.runtime.run", "raydas.formats") in seen  # ``from .. import formats`` names the package
    assert ("raydas.apps.cli", "raydas.runtime") in seen  # inside a function
    assert ("raydas.commands.base", "raydas.outputs") in seen  # under ``if TYPE_CHECKING:``
    assert ("raydas.__main__", "raydas.apps.cli") in seen  # absolute


# --- the checker fails where it should -------------------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / PACKAGE
    shutil.copytree(Path(REPO) / PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _append(path: Path, text: str) -> int:
    """Append ``text`` to ``path``; return the line number of its first line."""
    before = path.read_text()
    path.write_text(before + text)
    return before.count("\n") + 1


def test_an_upward_import_is_named_with_its_line(tmp_path):
    root = _copy(tmp_path)
    # inside a function, absolute; runtime.progress imports no raydas module, so this makes no cycle
    body = "\n\ndef _tangle():\n    from raydas.runtime.progress import Progress\n\n    return Progress\n"
    line = _append(root / "formats" / "segy.py", body)
    expected = f"raydas.formats.segy:{line + 3} -> raydas.runtime.progress  (formats imports runtime, a higher layer)"
    assert check(root) == [expected]


def test_an_upward_import_that_closes_a_cycle_is_named_twice(tmp_path):
    root = _copy(tmp_path)
    line = _append(root / "chunk.py", "\nfrom .pipeline import Pipeline  # noqa\n")
    upward, cycle = check(root)
    assert upward == f"raydas.chunk:{line + 1} -> raydas.pipeline  (model imports pipeline, a higher layer)"
    # the modules caught in the tangle (pipeline reaches chunk directly and through formats.base, too)
    members = cycle.removeprefix("cycle among ").split(": ", 1)[0].split(", ")
    assert cycle.startswith("cycle among ") and {"raydas.chunk", "raydas.pipeline"} <= set(members)
    assert f"raydas.chunk:{line + 1} -> raydas.pipeline" in cycle and "raydas.pipeline:" in cycle


def test_importing_the_public_api_from_inside_is_upward(tmp_path):
    root = _copy(tmp_path)
    line = _append(root / "formats" / "segy.py", "\nimport raydas\n")
    expected = f"raydas.formats.segy:{line + 1} -> raydas  (formats imports the public API, a higher layer)"
    assert check(root) == [expected]


def test_a_cycle_within_one_layer_is_named(tmp_path):
    root = _copy(tmp_path)
    line = _append(root / "errors.py", "\nfrom .fsutil import join  # noqa\n")
    _append(root / "fsutil.py", "\nfrom .errors import RaydasError  # noqa\n")
    problems = check(root)
    assert len(problems) == 1 and problems[0].startswith("cycle among raydas.errors, raydas.fsutil: "), problems
    assert f"raydas.errors:{line + 1} -> raydas.fsutil" in problems[0]


def test_a_new_module_must_be_given_a_layer(tmp_path):
    root = _copy(tmp_path)
    (root / "stray.py").write_text("from .chunk import Chunk\n")
    assert check(root) == ["raydas.stray is in no layer: add it to LAYERS in tests/project/test_import_layers.py"]
