# langso — two commands on a fresh Debian 12 / Raspberry Pi OS machine:
#   make run    the daemon on simulated hardware, http://127.0.0.1:8080
#   make test   the whole test suite (installs what the tests need)
# Both create .venv and install the package; system packages come from apt
# (installed when run as root, otherwise the exact command is printed).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080

# Debian packages the daemon needs at run time (espeak-ng: offline Vietnamese TTS;
# portaudio19-dev + python3-dev + gcc: to build PyAudio for the sound card, it has no Linux wheel).
RUN_DEBS  := python3-venv espeak-ng portaudio19-dev python3-dev gcc
# ... and what the tests add (a real broker, a real browser, real sample footage,
# an RTSP server, systemd-analyze for the unit).
TEST_DEBS := $(RUN_DEBS) mosquitto openssl chromium chromium-driver \
             opencv-doc systemd python3-numpy shellcheck \
             python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad

# ... and what `make bench` adds (valgrind: bench_camera_instructions.py counts instructions).
BENCH_DEBS := $(TEST_DEBS) valgrind

.PHONY: run test venv debs-run debs-test debs-bench bench clean

run: debs-run $(VENV)/.installed
	$(VENV)/bin/langso demo --port $(PORT)

test: debs-test $(VENV)/.installed-test
	$(VENV)/bin/python -m pytest -q

bench: debs-bench $(VENV)/.installed-test
	$(VENV)/bin/python bench/run_all.py

venv: $(VENV)/.installed

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.created pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

debs-run:
	@sh systemd/ensure-debs.sh $(RUN_DEBS)

debs-test:
	@sh systemd/ensure-debs.sh $(TEST_DEBS)

debs-bench:
	@sh systemd/ensure-debs.sh $(BENCH_DEBS)

clean:
	rm -rf $(VENV) build *.egg-info
