"""Shared by the tests of examples/: import a program as a module, call its main, run it.

The learning programs are scripts, not a package, so tests load them by path.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_example(name):
    """examples/<name>.py imported as a module."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_main(module, capsys, argv):
    """module.main(argv) -> (exit code, stdout, stderr); argparse's SystemExit counts as an exit."""
    try:
        code = module.main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_example(name, *args, timeout=60):
    """examples/<name>.py as a user runs it: a subprocess from the repository root."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
                          check=False, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=path), timeout=timeout)
