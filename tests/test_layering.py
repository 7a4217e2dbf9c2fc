"""The package's layers import downward only, and no module imports a cycle.

From the bottom: arithmetic and errors; config schemas and the back-end registry; data and
tasks; model families; back-ends; training and evaluation; the CLI. Every import counts, at the
top of a module or inside a function, and importing ``a.b.c`` also runs the packages ``a`` and
``a.b``. A new module must be given its layer here."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS = [
    ("arithmetic and errors", ["", "errors", "stats", "atomic", "runlock", "machine", "distributed", "checkpoint",
                               "plasticity", "plasticity.rules", "quant", "quant.fixed_point",
                               "neuro", "neuro.lava_compat", "neuro.loihi.rule_grammar"]),
    ("config schemas", ["config", "config_parse", "registry"]),
    ("data and tasks", ["data", "data.*", "tasks", "tasks.*"]),
    ("model families", ["models", "models.*", "baselines", "plasticity.fast_weights", "plasticity.plastic_layers", "quant.model",
                        "quant.numerics", "families"]),
    ("back-ends", ["backends", "backends.*", "quant.integer", "neuro.attention_compiler", "neuro.loihi",
                   "neuro.loihi.*"]),
    ("training and evaluation", ["train", "evaluate", "predict", "shipped", "experiments", "experiments.*"]),
    ("CLI", ["cli", "cli.*", "reference"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in (SRC / "hebbformer").rglob("*.py")}


def layer_of(module: str) -> int:
    name = module.removeprefix("hebbformer").removeprefix(".")
    best = None
    for i, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            exact = pattern == name
            if exact or (pattern.endswith(".*") and name.startswith(pattern[:-1])):
                if best is None or exact:
                    best = i
    if best is None:
        raise AssertionError(f"{module} has no layer in tests/test_layering.py")
    return best


def imports_of(module: str) -> set[str]:
    """The hebbformer modules ``module`` imports, with the packages each import runs."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            if node.level:  # a relative import names a module of the package, which must exist
                assert base in MODULES, f"{module} imports {base}, which is no module of the package"
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & MODULES.keys()
    found.discard(module)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_downward(module):
    mine = layer_of(module)
    upward = sorted(m for m in GRAPH[module] if layer_of(m) > mine)
    assert not upward, (f"{module} ({LAYERS[mine][0]}) imports {upward} from a layer above: "
                        f"{[LAYERS[layer_of(m)][0] for m in upward]}")


def test_no_import_cycles():
    state, path = {}, []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == "open" and not m.startswith(n + "."):
                pytest.fail("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state and not m.startswith(n + "."):
                visit(n)
        path.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_no_private_name_is_imported_from_another_module():
    """A leading underscore means "this module's own": the package, its tests and its benchmarks
    import public names only."""
    roots = [SRC / "hebbformer", SRC.parent / "tests", SRC.parent / "bench"]
    offenders = []
    for path in (p for root in roots for p in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("hebbformer")):
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, offenders
