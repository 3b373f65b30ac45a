# The two commands the README promises: `make demo` and `make test`.
.PHONY: demo test soak compare pi-emu lock counter-screenshots dashboard-shot central-bench clean

demo:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh sim
	.venv/bin/edge-sim demo

test:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh dev
	.venv/bin/python -m pytest -m "not soak" -q

soak:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh dev
	.venv/bin/python -m pytest -m soak -q

# Side-by-side comparison with OpenCV's reference pipeline and face_recognition (docs/COMPARISON.md):
# first the accuracy comparison on dataset pairs (rewrites docs/COMPARISON.md, docs/roc_comparison.png and the summary in
# docs/BENCHMARKS.md), then the headline: camera-size frames, every system interleaved frame by frame in one process, one
# thread, frame -> decision stage by stage, CPU model and flags stored (docs/comparison_camera.json, inserted at the top).
# LIMIT=N scores a seeded subset of N pairs (0 = all 3000 pairs, ~30 min on 2 shared cores; the docs say which);
# IMAGES=N sets the dataset faces per frame size of the camera-frame run. Slow: run it niced on a shared machine.
# face-recognition 1.3.0 is installed without deps: its dlib dependency comes from dlib-bin wheels.
LIMIT ?= 0
IMAGES ?= 40
compare:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh bench
	.venv/bin/pip install -q --no-deps face-recognition==1.3.0
	.venv/bin/python -m benchmarks --limit $(LIMIT) --write-docs
	.venv/bin/python -m benchmarks.camera --images $(IMAGES) --json docs/comparison_camera.json --write-docs

# Tepat Edge on the Pi's architecture: an emulated arm64 Debian bookworm root (debootstrap + qemu-user-static,
# cached in ~/.cache/tepat-edge/pi-emu), installed with install.sh, compared with x86_64 (docs/PI.md
# "Verified under emulation"). Needs root; slow (not part of `make test`); emulated times are not speed figures.
pi-emu:
	bash scripts/pi-emu/run.sh

# The hashed lock files of the device install (requirements/device-{x86_64,aarch64}.lock), resolved with uv.
lock:
	@bash scripts/venv.sh dev
	.venv/bin/pip install -q -e '.[lock]'
	bash scripts/lock.sh

# The counter app's 1024x600 screenshots in docs/ (docs/COUNTER.md), taken by its browser tests.
counter-screenshots:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh dev
	COUNTER_SCREENSHOTS=docs .venv/bin/python -m pytest tests/test_counter_browser.py -q -p no:cacheprovider

# The dashboard screenshot in docs/CENTRAL.md: the demo day on two terminals, photographed by headless Chromium.
dashboard-shot:
	@bash scripts/system-packages.sh
	@bash scripts/venv.sh dev
	.venv/bin/edge-sim demo --new-broker --devices 2 --screenshot docs/dashboard.png

# Central-service scale figures (docs/BENCHMARKS.md "Central service"): 1,000 light terminals, SQLite, 1 and 2 ingest workers.
# For PostgreSQL add CENTRAL_DB1=postgresql://user@host/empty_db_1 CENTRAL_DB2=…/empty_db_2 (each run needs an empty database).
central-bench:
	@bash scripts/venv.sh dev
	.venv/bin/edge-sim fleet --light --new-broker mosquitto --devices 1000 --records 3 --workers 1 $(if $(CENTRAL_DB1),--central-db $(CENTRAL_DB1))
	.venv/bin/edge-sim fleet --light --new-broker mosquitto --devices 1000 --records 3 --workers 2 $(if $(CENTRAL_DB2),--central-db $(CENTRAL_DB2))

clean:
	rm -rf .venv .pytest_cache build *.egg-info
