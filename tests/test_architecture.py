"""The shape of the package (docs/architecture.md): no flags at import, small classes
and functions, no scripts inside the package."""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "gan_tf"
MAX_CLASS_LINES, MAX_FUNCTION_LINES = 350, 80
CLI_MODULES = {"train.py", "evaluate.py"}


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if "assets" not in p.parts)


def _docstring_lines(node):
    """Lines of every docstring in `node` (its own and those of nested defs)."""
    total = 0
    for inner in ast.walk(node):
        if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                              ast.Module)) and inner.body:
            first = inner.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None),
                                                            ast.Constant) and \
                    isinstance(first.value.value, str):
                total += first.end_lineno - first.lineno + 1
    return total


def _sizes():
    """[(kind, qualified name, lines without docstrings)] of every class and function."""
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                found.append((kind, f"{path.relative_to(PACKAGE)}:{node.name}", lines))
    return found


def test_no_class_over_350_lines_and_no_function_over_80():
    sizes = _sizes()
    assert len(sizes) > 100  # the walk found the package
    too_long = [(kind, name, lines) for kind, name, lines in sizes
                if lines > (MAX_CLASS_LINES if kind == "class" else MAX_FUNCTION_LINES)]
    assert not too_long, too_long


def test_the_counter_counts_code_not_docstrings():
    source = 'def f():\n    """Doc\n\n    more doc.\n    """\n    x = 1\n    return x\n'
    node = ast.parse(source).body[0]
    assert node.end_lineno - node.lineno + 1 - _docstring_lines(node) == 3


def test_importing_every_module_defines_no_flag():
    """Flags exist only while a CLI runs (gan_tf.train / gan_tf.evaluate main)."""
    modules = sorted(
        "gan_tf." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).replace(
            ".__init__", "").rstrip(".") for p in _sources())
    modules = [m[:-len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    script = f"""
import absl.logging, absl.flags, tensorflow, keras, tensorflow_datasets
before = set(absl.flags.FLAGS)
import importlib
for name in {modules!r}:
    importlib.import_module(name)
added = sorted(set(absl.flags.FLAGS) - before)
print("ADDED", added)
assert not added, added
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "ADDED []" in result.stdout


def test_no_scripts_inside_the_package_but_the_two_command_lines():
    scripts = [p.relative_to(PACKAGE).as_posix() for p in _sources()
               if '__name__ == "__main__"' in p.read_text(encoding="utf-8")]
    assert sorted(scripts) == sorted(CLI_MODULES), scripts


def _imported_modules(path):
    """The absolute module names that `path` imports (`import x`, `from x import y`:
    x, and x.y where y may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_configs_import_no_runtime_module():
    """gan_tf/configs is plain data: it imports gan_tf.configs' own modules only."""
    files = sorted((PACKAGE / "configs").glob("*.py"))
    assert len(files) >= 3
    runtime = {f"{path}: {name}" for path in files for name in _imported_modules(path)
               if name.split(".")[0] == "gan_tf" and not name.startswith("gan_tf.configs")}
    assert not runtime, sorted(runtime)


def _is_module(dotted):
    """Whether `dotted` (gan_tf.x.y) names a module or package of this repository."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private_uses(source, roots=("gan_tf", "benchmarks")):
    """The places in `source` that reach another module's private name: `from x import
    _y` and `module._y` (module: a name bound to a module of `roots`), where _y is not
    a module itself (a package's private modules, such as gan_tf._cli, are shared
    inside it). Returns ["line: text"]."""
    tree = ast.parse(source)
    modules, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in roots:
                    modules[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] in roots:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                not node.attr.startswith("__") and isinstance(node.value, ast.Name) and \
                node.value.id in modules and \
                not _is_module(f"{modules[node.value.id]}.{node.attr}"):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_private_name_check_finds_both_forms():
    source = ("from gan_tf import checkpoint as checkpoint_lib\n"
              "from gan_tf.configs import _lists_to_tuples\n"
              "from gan_tf import _cli, _faults\n"
              "import gan_tf.data\n"
              "checkpoint_lib._strip('x'); _cli.fail('y'); gan_tf._private\n")
    assert sorted(_private_uses(source)) == [
        "2: from gan_tf.configs import _lists_to_tuples", "5: checkpoint_lib._strip",
        "5: gan_tf._private"]


def test_no_module_reaches_another_modules_private_names():
    """In gan_tf and in benchmarks/."""
    paths = _sources() + sorted((PACKAGE.parent / "benchmarks").glob("*.py"))
    assert len(paths) > len(_sources())
    found = [f"{path.relative_to(PACKAGE.parent)}:{hit}" for path in paths
             for hit in _private_uses(path.read_text(encoding="utf-8"))]
    assert not found, found
