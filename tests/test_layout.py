"""The package's shape: no import cycle between braininabox's modules (an import inside a
function counts too: it only hides a cycle), and the pipeline's order holds: nn/ imports
nothing from train/, data/ or deploy/; train/ nothing from deploy/."""
import ast
import pathlib

import braininabox as bb

PACKAGE = pathlib.Path(bb.__file__).parent


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if p.name != "_build_ffi.py"}


def imports(name, path, known):
    """The braininabox modules `name` imports (X for `from X import y`, or X.y when y is a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def graph():
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_import_cycle():
    edges = graph()
    # Packages' __init__ re-export their children; a child importing its own package's
    # __init__ is not a cycle of code, so only module -> module edges count.
    packages = {n for n, p in modules().items() if p.name == "__init__.py"}
    edges = {n: {m for m in e if m not in packages} for n, e in edges.items() if n not in packages}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_layers_of_the_pipeline_only_import_downwards():
    forbidden = {"braininabox.nn": ("braininabox.train", "braininabox.data", "braininabox.deploy"),
                 "braininabox.train": ("braininabox.deploy",),
                 "braininabox.data": ("braininabox.train", "braininabox.deploy")}
    for name, targets in graph().items():
        for layer, banned in forbidden.items():
            if name.startswith(layer + "."):
                bad = sorted(t for t in targets if t.startswith(banned))
                assert not bad, f"{name} imports {bad}"


def test_public_names_survive_the_layout():
    for name in ("Tensor", "Sequential", "load", "quantize", "seed", "set_num_threads"):
        assert hasattr(bb, name)
    assert bb.embedded.run and bb.data.DataLoader and bb.datasets.load_mnist
    assert bb.layers.LSTM and bb.loss.CrossEntropy and bb.optimizers.Adam
