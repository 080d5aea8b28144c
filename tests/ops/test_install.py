"""systemd/install.sh run for real into a temp root (DESTDIR): the service user made by
useradd --prefix, directories and modes, the venv with --system-site-packages and the
package pip-installed into it, the numpy check, `langso config check`, the unit enabled
with `systemctl --root`. Not run here: apt-get, and starting the unit (no systemd as PID 1)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import importlib.util
import subprocess
import tomllib
from pathlib import Path

import packaging
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
INSTALL = SYSTEMD / "install.sh"


def make_root(root: Path) -> Path:
    """A root with just the account files useradd needs; no gpio group (as on a non-Pi)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\naudio:x:29:\nvideo:x:44:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\naudio:*::\nvideo:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o600)
    return root


def run_install(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, DESTDIR=str(root), LANGSO_EXTRAS="", **env)  # lgpio wheels are for the Pi
    return subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, env=full_env, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    if os.geteuid() != 0:
        pytest.fail("install.sh runs as root (useradd, chown): run the suite as root, as CI does (sudo make test)")
    root = make_root(tmp_path_factory.mktemp("root"))
    result = run_install(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root, result


def account(root: Path, name: str) -> list[str]:
    lines = [l.split(":") for l in (root / "etc/passwd").read_text().splitlines() if l.startswith(name + ":")]
    assert len(lines) == 1, lines
    return lines[0]


def group_members(root: Path) -> dict[str, list[str]]:
    groups = {}
    for line in (root / "etc/group").read_text().splitlines():
        name, _, _, members = line.split(":")
        groups[name] = [m for m in members.split(",") if m]
    return groups


def test_script_parses_and_passes_shellcheck():
    assert subprocess.run(["bash", "-n", str(INSTALL)]).returncode == 0
    lint = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_refuses_to_run_as_a_normal_user(tmp_path):
    # the script on stdin: the checkout may sit in a home directory that user cannot enter
    with open(INSTALL) as script:
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-s"],
                                stdin=script, capture_output=True, text=True, cwd="/",
                                env=dict(os.environ, DESTDIR=str(tmp_path)))
    assert result.returncode == 1
    assert "run as root" in result.stderr
    assert not any(tmp_path.iterdir())


def test_service_user_in_the_groups_that_exist(installed):
    root, _ = installed
    user = account(root, "langso")
    assert user[5:] == ["/var/lib/langso", "/usr/sbin/nologin"]
    assert int(user[2]) < 1000  # a system account
    groups = group_members(root)
    assert groups["audio"] == ["langso"] and groups["video"] == ["langso"]
    assert "gpio" not in groups  # no such group on this root: skipped, not an error


def test_directories_config_and_credential(installed):
    root, result = installed
    uid, gid = (int(x) for x in account(root, "langso")[2:4])
    conf = root / "etc/langso/langso.toml"
    assert conf.read_text() == (SYSTEMD / "langso.example.toml").read_text()
    st = conf.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, gid)  # the service reads, cannot write
    secret = (root / "etc/langso/mqtt.pass").stat()
    assert (stat.S_IMODE(secret.st_mode), secret.st_uid, secret.st_size) == (0o600, 0, 0)
    state = (root / "var/lib/langso").stat()
    assert (stat.S_IMODE(state.st_mode), state.st_uid, state.st_gid) == (0o750, uid, gid)
    assert f"{root}/etc/langso/langso.toml: OK" in result.stdout
    assert "langso user add" in result.stdout and "langso selftest" in result.stdout


def test_venv_sees_system_packages_and_runs_langso(installed):
    root, _ = installed
    venv = root / "opt/langso/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    assert os.readlink(root / "usr/local/bin/langso") == "/opt/langso/venv/bin/langso"
    probe = subprocess.run([str(venv / "bin/python"), "-c", "import numpy, controller.cli; print(numpy.__file__)"],
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("/usr/lib/python3/dist-packages/numpy/")  # apt's numpy, as picamera2 needs
    help_ = subprocess.run([str(venv / "bin/langso"), "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "selftest" in help_.stdout


def test_unit_installed_and_enabled(installed):
    root, _ = installed
    unit = root / "etc/systemd/system/langso.service"
    assert unit.read_text() == (SYSTEMD / "langso.service").read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/langso.service"
    assert os.readlink(wants) == "/etc/systemd/system/langso.service"


def test_installed_unit_verifies_inside_the_root(installed, tmp_path):
    """systemd-analyze verify --root resolves ExecStart inside the root: the installed venv's
    langso must be there. The root gets a copy of this machine's system units (targets)."""
    root, _ = installed
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "langso.service"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", "langso.service"],
                              capture_output=True, text=True)
    assert re.search(r"Overall exposure level for langso.service: (?:[0-3]\.\d|4\.0) ", security.stdout), security.stdout


def test_installed_daemon_notifies_ready_and_stops_cleanly(installed, notify_socket, tmp_path):
    """The program in the installed venv, on the installed config (simulated pins), speaks
    the notify protocol to a real socket and stops on SIGTERM with exit 0."""
    root, _ = installed
    text = (root / "etc/langso/langso.toml").read_text()
    text = (text.replace('pin_factory = "auto"', 'pin_factory = "mock"')
                .replace('dir = "/var/lib/langso"', f'dir = "{tmp_path / "data"}"')
                .replace('listen = "0.0.0.0:8080"', 'listen = "127.0.0.1:0"')
                .replace("require_sync = true", "require_sync = false"))
    config = tmp_path / "langso.toml"
    config.write_text(text)
    assert tomllib.loads(text)["gpio"]["pin_factory"] == "mock"
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="2000000")
    with open(tmp_path / "daemon.log", "wb") as log:
        proc = subprocess.Popen([str(root / "opt/langso/venv/bin/langso"), "run", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            assert "STATUS=serving http://127.0.0.1:" in notify_socket.wait_for("READY=1")
            notify_socket.wait_for("WATCHDOG=1")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    notify_socket.wait_for("STOPPING=1")
    assert "langso stopped" in (tmp_path / "daemon.log").read_text()


def test_rerun_keeps_the_config_and_refuses_a_broken_one(installed):
    root, _ = installed
    conf = root / "etc/langso/langso.toml"
    original = conf.read_text()
    try:
        conf.write_text(original.replace('name = "Nhà văn hóa thôn Hổ Thôn"', 'name = "Nhà văn hóa thôn Đông"'))
        again = run_install(root)
        assert again.returncode == 0, again.stderr
        assert "keeping /etc/langso/langso.toml" in again.stdout and "user langso exists" in again.stdout
        assert "Nhà văn hóa thôn Đông" in conf.read_text()
        account(root, "langso")  # still exactly one account

        conf.write_text(original.replace("keep_days = 14", "keep_days = 0"))
        broken = run_install(root)
        assert broken.returncode == 1
        assert "storage.keep_days" in broken.stderr
        assert "fix /etc/langso/langso.toml" in broken.stderr
    finally:
        conf.write_text(original)


def bare_venv(path: Path, *options: str) -> Path:
    """A venv of Debian's python holding nothing but `packaging`, which check_venv.py imports
    (a real install gets it from pip, as a dependency of langso); returns its python."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", *options, str(path)], check=True)
    [site] = path.glob("lib/python3*/site-packages")
    shutil.copytree(Path(packaging.__file__).parent, site / "packaging")
    return path / "bin/python"


def test_venv_check_refuses_a_venv_without_the_system_numpy(tmp_path):
    isolated = bare_venv(tmp_path / "isolated")
    result = subprocess.run([str(isolated), str(SYSTEMD / "check_venv.py")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "numpy cannot be imported" in result.stderr and "--system-site-packages" in result.stderr

    shared = bare_venv(tmp_path / "shared", "--system-site-packages")
    result = subprocess.run([str(shared), str(SYSTEMD / "check_venv.py")], capture_output=True, text=True)
    assert "numpy 1." in result.stdout and "numpy" not in result.stderr  # apt's numpy passes
    # langso is not installed in this venv: its pins come from the source tree's pyproject.toml,
    # which asks for the OpenCV wheel this bare venv lacks
    assert result.returncode == 1 and "opencv-python-headless is not installed" in result.stderr


def test_venv_check_without_langso_or_its_source_says_so(tmp_path):
    script = tmp_path / "systemd" / "check_venv.py"  # no pyproject.toml beside it
    script.parent.mkdir()
    shutil.copy(SYSTEMD / "check_venv.py", script)
    result = subprocess.run([str(bare_venv(tmp_path / "venv", "--system-site-packages")), str(script)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "langso is not installed" in result.stderr and "install.sh" in result.stderr


def load_check_venv():
    spec = importlib.util.spec_from_file_location("check_venv", SYSTEMD / "check_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_rule_names_the_fix():
    check = load_check_venv()
    system = "/usr/lib/python3/dist-packages/numpy/__init__.py"
    pip = "/opt/langso/venv/lib/python3.11/site-packages/numpy/__init__.py"
    pinned = (">=1.24,<2", ">=4.8,<4.12")
    assert check.numpy_problems("1.24.2", system, True, *pinned) == []
    numpy2 = check.numpy_problems("2.1.3", pip, True, *pinned)
    assert len(numpy2) == 2
    assert "numpy>=1.24,<2" in numpy2[0] and "opencv-python-headless>=4.8,<4.12" in numpy2[0]
    assert "pip uninstall numpy" in numpy2[0] and "shadows" in numpy2[1]
    # without apt's numpy there is none to fall back on: the fix is pip's numpy within the pin
    [alone] = check.numpy_problems("2.1.3", pip, False, *pinned)
    assert "pip install 'numpy>=1.24,<2'" in alone and "uninstall" not in alone
    # a pip numpy 1.x without apt's numpy present is fine (no picamera2 to break)
    assert check.numpy_problems("1.26.4", pip, False, *pinned) == []


def test_venv_check_uses_the_pins_of_pyproject():
    """The Pi check and pyproject.toml cannot drift apart: the check reads langso's own pins."""
    check = load_check_venv()
    declared = {req.name: req.specifier for req in map(Requirement, tomllib.loads(
        (SYSTEMD.parent / "pyproject.toml").read_text())["project"]["dependencies"])}
    pinned = check.pins()
    for dist in ("numpy", "opencv-python-headless"):
        assert SpecifierSet(pinned[dist]) == declared[dist], (dist, pinned[dist], declared[dist])
    # the pins as they stand keep apt's numpy and refuse what would break picamera2
    assert check.satisfies("1.24.2", pinned["numpy"]) and not check.satisfies("2.0.0", pinned["numpy"])
    assert check.satisfies("4.11.0.86", pinned["opencv-python-headless"])
    assert not check.satisfies("4.12.0.88", pinned["opencv-python-headless"])


def test_opencv_rule_names_the_pin_and_the_fix():
    check = load_check_venv()
    assert check.opencv_problems("4.10.0.84", ">=4.8,<4.12", "") == []
    [too_new] = check.opencv_problems("4.12.0.88", ">=4.8,<4.12", "")
    assert "opencv-python-headless 4.12.0.88" in too_new and "pip install 'opencv-python-headless>=4.8,<4.12'" in too_new
    [too_old] = check.opencv_problems("4.7.0.72", ">=4.8,<4.12", "")
    assert "opencv-python-headless 4.7.0.72" in too_old and "pip install 'opencv-python-headless>=4.8,<4.12'" in too_old
    assert check.opencv_problems("4.11.0rc1", ">=4.8,<4.12", "") == []  # an installed pre-release counts (SpecifierSet leaves them out by default)
    [broken] = check.opencv_problems("4.11.0.86", ">=4.8,<4.12", "ImportError: numpy.core.multiarray failed")
    assert "import cv2 failed" in broken
    assert "not installed" in check.opencv_problems(None, "<4.12", "")[0]
    # numpy within the pin but not Debian's 1.x while apt's numpy exists: still refused
    assert check.numpy_problems("2.1.0", "/usr/lib/python3/dist-packages/numpy/__init__.py", True, ">=1.24", "<5")


def test_optional_https_certificate_readable_by_the_service_only(installed):
    root, first = installed
    assert "sudo LANGSO_HTTPS=1" in first.stdout  # offered, not done, by default
    assert not (root / "etc/langso/web.key").exists()
    result = run_install(root, LANGSO_HTTPS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "making a self-signed HTTPS certificate" in result.stdout
    crt, key = root / "etc/langso/web.crt", root / "etc/langso/web.key"
    gid = int(account(root, "langso")[3])
    assert (stat.S_IMODE(key.stat().st_mode), key.stat().st_uid, key.stat().st_gid) == (0o640, 0, gid)
    x509 = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-checkend", "86400", "-ext", "subjectAltName"],
                          capture_output=True, text=True)
    assert x509.returncode == 0 and "localhost" in x509.stdout, x509.stdout + x509.stderr
    assert 'tls_cert = \\"/etc/langso/web.crt\\"' not in result.stdout  # the hint is plain text
    assert 'add to [web] in /etc/langso/langso.toml:  tls_cert = "/etc/langso/web.crt"' in result.stdout
    before = crt.read_bytes()
    again = run_install(root, LANGSO_HTTPS="1")
    assert again.returncode == 0 and "keeping the HTTPS certificate" in again.stdout
    assert crt.read_bytes() == before  # phones that trusted it keep trusting it
