"""The layout rules the code base keeps, read from its source: what may import what."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tempopt"
COMPAT = ROOT / "study" / "optuna_internals"
PRIVATE_USE = re.compile(r"\._(storage|study_id|trial_id|cached_frozen_trial|thread_local|backend)\b|SLF001")


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _private_optuna(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("optuna.") and any(p.startswith("_") for p in n.split(".")[1:])}


def test_optuna_internals_are_used_only_in_their_own_package():
    offenders = []
    for path in _modules(ROOT):
        if COMPAT in path.parents:
            continue
        private = _private_optuna(_imported(path))
        uses = [m.group(0) for m in PRIVATE_USE.finditer(path.read_text())]
        if private or uses:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(private) + uses}")
    assert not offenders, offenders


def test_the_internals_package_does_use_them():  # the rule above can fail: the scan finds them here
    found = [p for p in _modules(COMPAT) if _private_optuna(_imported(p)) or PRIVATE_USE.search(p.read_text())]
    assert len(found) >= 4


def test_the_training_code_never_imports_optuna():
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules(ROOT / "distill")
        if any(n == "optuna" or n.startswith("optuna.") for n in _imported(p))
    ]
    assert not offenders


CLOCK = re.compile(r"\bdatetime\.now\(|\.utcnow\(|\bfunc\.now\(|\bfunctions\.now\(|\b(?:date|datetime)\.today\(")
TIMESTAMPS = ROOT / "timestamps.py"


def test_every_clock_is_read_in_the_timestamps_module():
    """A trial's times are naive UTC in the database and naive local on a FrozenTrial: a module
    reading a clock of its own once wrote local time as UTC (the claim of a queued trial)."""
    offenders = [str(p.relative_to(ROOT)) for p in _modules(ROOT) if p != TIMESTAMPS and CLOCK.search(p.read_text())]
    assert not offenders
    assert len(CLOCK.findall(TIMESTAMPS.read_text())) >= 3  # the scan finds them there


# --- Import cycles -------------------------------------------------------------------------------
# The graph of which tempopt module imports which, read from the source: every import statement
# counts, in a function too (it runs when the function does), except those under
# ``if TYPE_CHECKING:`` (they never run). ``from package import name`` is an edge to the submodule
# ``name`` when there is one, to the module a package's lazy table (``lazy_exports``) names for
# ``name``, else to the package itself.


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of the module, less those under ``if TYPE_CHECKING:``."""
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for child in ast.walk(stmt)
    }
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skipped]


def _lazy_table(tree: ast.Module, package: str) -> dict[str, str]:
    """name → module of a package's ``lazy_exports(__name__, {module: (names, …)})`` call."""
    table: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            exports = ast.literal_eval(node.args[1])
            for module, names in exports.items():
                for entry in names:
                    name, _, alias = entry.partition(" as ")
                    table[alias or name] = importlib.util.resolve_name(module, package)
    return table


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module → the modules of the same package tree it imports."""
    root = package_dir.parent
    paths = {_module_of(p, root): p for p in sorted(package_dir.rglob("*.py"))}
    trees = {name: ast.parse(path.read_text()) for name, path in paths.items()}
    lazy = {name: _lazy_table(tree, name) for name, tree in trees.items() if paths[name].name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for name, tree in trees.items():
        package = name if paths[name].name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in paths)
                continue
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                edges.add(target if target in paths else lazy.get(base, {}).get(alias.name, base))
        graph[name] = {e for e in edges if e in paths and e != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def one_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """A shortest import loop through the first of ``members`` (all of one component): a → b → … → a."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{members} is not one component")


# Cycles left for the package restructure of issue 25 (part 1) to break, each a component's
# modules, with why: a cycle that grows, or a new one, fails the test; a listed one that is gone
# must leave the list. None today.
ALLOWED_CYCLES: list[set[str]] = []


def test_no_module_imports_itself_through_others():
    graph = import_graph(ROOT)
    found = import_cycles(graph)
    new = [c for c in found if not any(set(c) <= allowed for allowed in ALLOWED_CYCLES)]
    assert not new, "import cycles:\n" + "\n".join(
        f"  {len(c)} modules: {', '.join(c)}\n    e.g. {' → '.join(one_cycle(graph, c))}" for c in new
    )
    gone = [sorted(a) for a in ALLOWED_CYCLES if not any(set(c) & a for c in found)]
    assert not gone, f"these allowed cycles are broken now; remove them from ALLOWED_CYCLES: {gone}"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path / "pkg"


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    """Through a relative import, a function's import, ``from package import submodule`` and a lazy
    export; not through ``TYPE_CHECKING``."""
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": 'lazy_exports(__name__, {".sub.low": ("thing",)})\n',
            "pkg/top.py": "from pkg import sub\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mid.py": "def f():\n    from . import low\n",
            "pkg/sub/low.py": "from pkg import top\n",
            "pkg/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.lazy_user import x\n",
            "pkg/lazy_user.py": "from pkg import thing\nfrom pkg import typed\n",
        },
    )
    graph = import_graph(pkg)
    assert graph["pkg.sub.mid"] == {"pkg.sub.low"} and graph["pkg.lazy_user"] == {"pkg.sub.low", "pkg.typed"}
    assert import_cycles(graph) == []  # top → sub (a package: no edge onwards), typed ↛ lazy_user
    (pkg / "sub" / "__init__.py").write_text("from .mid import f\n")
    graph = import_graph(pkg)
    assert import_cycles(graph) == [["pkg.sub", "pkg.sub.low", "pkg.sub.mid", "pkg.top"]]
    assert one_cycle(graph, ["pkg.sub", "pkg.sub.low", "pkg.sub.mid", "pkg.top"]) == [
        "pkg.sub",
        "pkg.sub.mid",
        "pkg.sub.low",
        "pkg.top",
        "pkg.sub",
    ]


LAYERS = [  # lowest first: a module may import its own layer and those below it, never above
    ("tempopt.errors", "tempopt.timestamps", "tempopt.lazy_exports", "tempopt.references", "tempopt.outputs"),
    ("tempopt.stopping",),
    ("tempopt.tasks",),
    ("tempopt.distill",),
    ("tempopt.study.optuna_internals",),  # Optuna's internals: what every layer of a study stands on
    ("tempopt.study.stored", "tempopt.study.siblings", "tempopt.study.spec", "tempopt.study.preflight"),
    ("tempopt.study.storage", "tempopt.study.search"),
    ("tempopt.study.trial", "tempopt.study.verification"),
    ("tempopt.study.workers",),
    ("tempopt.analysis",),
    ("tempopt.export",),
    ("tempopt.cli", "tempopt.launch", "tempopt.__main__"),
]
ALLOWED_UPWARD: set[tuple[str, str]] = set()  # (importer, imported): known, to be removed; none today


def _layer_name(module: str) -> str | None:
    """The longest prefix in LAYERS that holds ``module`` (None: a package's own ``__init__`` above
    every layer it holds: ``tempopt``, ``tempopt.study``)."""
    held = [p for prefixes in LAYERS for p in prefixes if module == p or module.startswith(p + ".")]
    return max(held, key=len) if held else None


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the layer holding ``module`` (see :func:`_layer_name`)."""
    name = _layer_name(module)
    return None if name is None else next(level for level, prefixes in enumerate(LAYERS) if name in prefixes)


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """``(importer, imported)`` where the imported module's layer is above the importer's."""
    found = set()
    for importer, targets in graph.items():
        low = layer_of(importer)
        for target in targets:
            high = layer_of(target)
            if low is not None and high is not None and high > low:
                found.add((importer, _layer_name(target)))
    return found


def test_layers_point_down_only():
    """errors < stopping < tasks < distill < the study's layers < analysis < export < cli, launch."""
    graph = import_graph(ROOT)
    assert {m for m in graph if layer_of(m) is None} == {"tempopt", "tempopt.study"}, "a module in no layer"
    new = upward_imports(graph) - ALLOWED_UPWARD
    assert not new, "imports that point up a layer:\n" + "\n".join(f"  {a} imports {b}" for a, b in sorted(new))
    gone = ALLOWED_UPWARD - upward_imports(graph)
    assert not gone, f"these upward imports are gone; remove them from ALLOWED_UPWARD: {sorted(gone)}"


def test_the_layer_check_finds_a_planted_upward_import():
    graph = {
        "tempopt.distill.job": {"tempopt.study.spec.model", "tempopt.tasks._task"},
        "tempopt.study.spec.model": set(),
        "tempopt.study.storage.opening": {"tempopt.study.optuna_internals.ids", "tempopt.study.workers.creation"},
    }
    assert upward_imports(graph) == {
        ("tempopt.distill.job", "tempopt.study.spec"),
        ("tempopt.study.storage.opening", "tempopt.study.workers"),
    }


MAX_LINES = 300  # "no module over ~300 lines": a little slack for a docstring
MAX_MODULES = 15  # "no folder with more than ~15 modules", its __init__ not counted


def test_no_module_is_long():
    long = {
        str(p.relative_to(ROOT)): n for p in _modules(ROOT) if (n := len(p.read_text().splitlines())) > MAX_LINES + 15
    }
    assert not long, f"modules over ~{MAX_LINES} lines: {long}"


def test_no_folder_holds_too_many_modules():
    crowded = {
        str(folder.relative_to(ROOT.parent)): n
        for folder in [ROOT, *(p for p in ROOT.rglob("*") if p.is_dir() and p.name != "__pycache__")]
        if (n := len([f for f in folder.glob("*.py") if f.name != "__init__.py"])) > MAX_MODULES
    }
    assert not crowded, f"folders with more than {MAX_MODULES} modules (split them by concept): {crowded}"


# --- The vocabulary of what a study stores -------------------------------------------------------
STORED = ROOT / "study" / "stored.py"
ATTR_READ = re.compile(
    r"""(?:user_attrs\.get\(|user_attrs\[|set_user_attr\(|attrs\.get\(|attrs\[)\s*["']([a-z_]+)["']"""
)


def stored_names(path: Path = STORED) -> set[str]:
    """The attribute names ``stored.py`` defines (its ``*_ATTR`` string constants)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets = [
                t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])
            ]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for target, value in zip(targets, values, strict=False):
                if getattr(target, "id", "").endswith("_ATTR") and isinstance(value, ast.Constant):
                    names.add(value.value)
    return names


def spelled_out(text: str, names: set[str]) -> list[str]:
    """The stored attribute names ``text`` reads or writes as string literals."""
    return [m.group(1) for m in ATTR_READ.finditer(text) if m.group(1) in names]


def test_stored_attributes_are_named_only_in_the_vocabulary():
    """A study's attributes are read and written through ``tempopt.study.stored``'s constants, so
    that renaming one, or finding every reader of one, is one search."""
    names = stored_names()
    assert {"spec", "baseline", "plan", "replicate", "verify_study"} <= names
    offenders = {
        str(p.relative_to(ROOT)): found
        for p in _modules(ROOT)
        if p != STORED and (found := spelled_out(p.read_text(), names))
    }
    assert not offenders, offenders


def test_the_vocabulary_check_finds_a_spelled_out_name():
    names = stored_names()
    assert spelled_out('spec = study.user_attrs.get("spec") or {}', names) == ["spec"]
    assert spelled_out("trial.set_user_attr('replicate', key)", names) == ["replicate"]
    assert spelled_out("study.user_attrs.get(SPEC_ATTR)", names) == []
