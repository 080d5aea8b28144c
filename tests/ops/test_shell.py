"""All shell code of the repository passes shellcheck; ensure-debs.sh (behind `make run`
and `make test`) installs only what is missing or prints the exact apt command."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "build", "node_modules", "__pycache__", ".pytest_cache"}
ENSURE = ROOT / "systemd/ensure-debs.sh"


def shell_scripts() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if any(part in SKIP or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts) or not path.is_file():
            continue
        with open(path, "rb") as f:
            first = f.readline(100)
        if path.suffix == ".sh" or (first.startswith(b"#!") and first.rstrip().split(b"/")[-1].split()[-1] in (b"sh", b"bash")):
            found.append(path)
    return found


def test_every_shell_script_passes_shellcheck():
    scripts = shell_scripts()
    names = {str(p.relative_to(ROOT)) for p in scripts}
    assert {"systemd/install.sh", "systemd/ensure-debs.sh", ".ci/run"} <= names, names
    lint = subprocess.run(["shellcheck", "--severity=info", *map(str, scripts)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    # the script on stdin: the checkout may sit where that user cannot enter
    with open(ENSURE) as script:
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s", *args],
                              stdin=script, capture_output=True, text=True, cwd="/")


def test_ensure_debs_is_quiet_when_everything_is_installed():
    result = as_nobody("dpkg", "coreutils")
    assert result.returncode == 0 and result.stdout == result.stderr == ""


def test_ensure_debs_prints_the_exact_command_for_the_missing_ones_only():
    result = as_nobody("dpkg", "langso-no-such-package", "coreutils", "langso-nor-this-one")
    assert result.returncode == 1
    assert "Run:  sudo apt-get install -y langso-no-such-package langso-nor-this-one\n" in result.stderr
