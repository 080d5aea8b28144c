"""systemd/langso.service: valid for systemd, sandboxed to an exposure of 4.0 or less,
and still open to what the house needs (GPIO, sound, cameras, network)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "langso.service"


def directives(path: Path = UNIT) -> dict[str, list[str]]:
    """Key -> every value it is given (systemd keys may repeat), comments skipped."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def one(key: str) -> str:
    values = directives()[key]
    assert len(values) == 1, f"{key} given {len(values)} times"
    return values[0]


def test_unit_verifies(tmp_path):
    # systemd-analyze verify checks that ExecStart exists: point it at this venv's langso
    langso = Path(sys.executable).parent / "langso"
    assert langso.exists(), "the package is not installed in this venv (pip install -e .)"
    text = UNIT.read_text().replace("ExecStart=/opt/langso/venv/bin/langso", f"ExecStart={langso}")
    assert f"ExecStart={langso} run --config /etc/langso/langso.toml" in text
    unit = tmp_path / "langso.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no warnings either


def test_verify_catches_a_broken_unit(tmp_path):
    # the check above can fail: a misspelt directive is reported
    unit = tmp_path / "langso.service"
    unit.write_text(UNIT.read_text().replace("ExecStart=/opt/langso/venv/bin/langso", f"ExecStart={shutil.which('true')}")
                    .replace("NoNewPrivileges=yes", "NoNewPriviledges=yes"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert "NoNewPriviledges" in result.stderr


def exposure(unit: Path) -> tuple[float, str]:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                            capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1)), result.stdout


def test_security_exposure_is_at_most_4():
    score, report = exposure(UNIT)
    assert score <= 4.0, report
    passed = {line.split()[1] for line in report.splitlines() if line.startswith("✓")}
    for setting in ("ProtectSystem=", "ProtectHome=", "PrivateTmp=", "NoNewPrivileges=", "NotifyAccess=",
                    "MemoryDenyWriteExecute=", "CapabilityBoundingSet=~CAP_SYS_TIME", "ProtectKernelTunables=", "RestrictRealtime=",
                    "LockPersonality=", "ProtectHostname=", "CapabilityBoundingSet=~CAP_SYS_ADMIN"):
        assert setting in passed, f"{setting} not satisfied:\n{report}"


def test_exposure_measure_tells_an_open_unit_apart(tmp_path):
    # the same service without its sandbox scores far worse: the parsed figure means something
    open_unit = tmp_path / "langso.service"
    open_unit.write_text("[Service]\nType=notify\nExecStart=/opt/langso/venv/bin/langso run\n")
    score, _ = exposure(open_unit)
    assert score > 9.0


def test_service_contract():
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("Restart") == "on-failure"
    assert one("RestartPreventExitStatus") == "2"  # `langso run` exits 2 on a bad config
    assert int(one("WatchdogSec")) >= 10
    assert one("User") == "langso"
    assert one("ProtectSystem") == "strict"
    assert one("StateDirectory") == "langso"
    assert "/var/lib/langso" in one("ReadWritePaths").split()
    assert one("UMask") == "0027"
    assert one("CapabilityBoundingSet") == ""
    assert one("LoadCredential") == "mqtt.pass:/etc/langso/mqtt.pass"
    # start without waiting for the Internet or NTP (a village house is often offline)
    assert not {"network-online.target", "time-sync.target"} & set(" ".join(directives().get("After", []) + directives().get("Wants", [])).split())
    assert one("ExecStart") == "/opt/langso/venv/bin/langso run --config /etc/langso/langso.toml"


def test_sandbox_still_lets_the_house_reach_its_devices_and_the_network():
    d = directives()
    assert one("DevicePolicy") == "closed"
    assert "PrivateDevices" not in d, "PrivateDevices would hide /dev/gpiochip*, /dev/snd, /dev/video*"
    assert "PrivateNetwork" not in d and "IPAddressDeny" not in d
    assert "PrivateUsers" not in d
    allowed = {v.split()[0] for v in d["DeviceAllow"]}
    for device_class in ("char-gpiochip", "char-alsa", "char-video4linux", "char-media", "char-dma_heap", "char-vchiq"):
        assert device_class in allowed
    assert all(v.split()[1] == "rw" for v in d["DeviceAllow"])
    families = set(one("RestrictAddressFamilies").split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    # port 8080 needs no capability; a port below 1024 would (CAP_NET_BIND_SERVICE)
    assert "SupplementaryGroups" not in d, "a group missing on the machine would stop the unit starting"


def test_systemd_analyze_is_installed():
    # CI installs systemd (Makefile TEST_DEBS); a missing tool must fail, not skip
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: apt-get install systemd"


def test_clock_can_be_read_but_not_set():
    """The unit allows adjtimex/clock_adjtime (no ProtectClock=) so the daemon can ask whether
    NTP has set the clock. Safe because setting it needs CAP_SYS_TIME: checked for real with an
    empty capability bounding set, like the service's CapabilityBoundingSet=."""
    assert "ProtectClock" not in directives()
    assert {"adjtimex", "clock_adjtime"} <= set(" ".join(directives()["SystemCallFilter"]).split())
    code = (
        "import ctypes, ctypes.util\n"
        "from controller.clock import _Timex, _kernel_synced\n"
        "print('read', _kernel_synced())\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
        "tx = _Timex(); tx.modes = 0x0001; tx.offset = 1000  # ADJ_OFFSET: try to slew the clock\n"
        "print('write', libc.adjtimex(ctypes.byref(tx)), ctypes.get_errno())\n"
    )
    # an empty bounding set leaves even root without CAP_SYS_TIME after exec, as in the unit
    result = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-c", code],
                            capture_output=True, text=True, cwd=UNIT.parents[1])
    lines = result.stdout.splitlines()
    assert lines[0] in ("read True", "read False"), result.stdout + result.stderr  # not None: the read worked
    assert lines[1] == "write -1 1", lines  # EPERM
