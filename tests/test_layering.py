"""The layering of STYLE.md rule 4 (docs/internals.md): drivers/, audio/ and camera/ never
import controller/, web/ or paho (controller/app.py wires them and hands them what they
need), and audio/ and camera/ never import each other. Every import counts: at the top,
inside a function, relative, or by name through importlib."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEVER = {"controller", "web", "paho"}
FORBIDDEN = {"drivers": NEVER | {"audio", "camera"}, "audio": NEVER | {"camera"}, "camera": NEVER | {"audio"}}


def imported(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative ones made absolute."""
    package = list(path.relative_to(root).parts)[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            if node.module:
                found.append((node.lineno, ".".join([*base, node.module])))
            else:  # `from . import x`, `from .. import x`
                found += [(node.lineno, ".".join([*base, alias.name])) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module")
                   or isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(wing: str, root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{line} imports {module}"
            for path in sorted((root / wing).rglob("*.py"))
            for line, module in imported(path, root) if module.split(".")[0] in FORBIDDEN[wing]]


def test_drivers_audio_and_camera_import_neither_controller_web_paho_nor_each_other():
    found = [v for wing in FORBIDDEN for v in violations(wing)]
    assert found == [], "\n".join(found)


def test_the_check_sees_imports_inside_functions_relative_ones_and_by_name(tmp_path: Path):
    wing = tmp_path / "audio" / "sub"
    wing.mkdir(parents=True)
    (wing / "x.py").write_text("import json\n"
                               "from . import y\n"
                               "def f():\n"
                               "    from controller.write_retry import WriteRetry\n"
                               "    import paho.mqtt.client\n"
                               "    from ... import web\n"
                               "    from .. import camera  # audio.camera: its own\n"
                               "    importlib.import_module('controller.db')\n")
    assert violations("audio", tmp_path) == ["audio/sub/x.py:4 imports controller.write_retry", "audio/sub/x.py:5 imports paho.mqtt.client",
                                   "audio/sub/x.py:6 imports web", "audio/sub/x.py:8 imports controller.db"]
