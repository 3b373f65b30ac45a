# The two commands the README promises: `make demo` and `make test`.
.PHONY: demo test soak compare clean

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

# Side-by-side comparison with OpenCV's reference pipeline and face_recognition (docs/COMPARISON.md).
# face-recognition 1.3.0 is installed without deps: its dlib dependency comes from dlib-bin wheels.
compare:
	@bash scripts/venv.sh bench
	.venv/bin/pip install -q --no-deps face-recognition==1.3.0
	.venv/bin/python -m benchmarks --limit 0 --write-docs
	.venv/bin/python -m benchmarks.camera --images 40 --json docs/comparison_camera.json --write-docs

clean:
	rm -rf .venv .pytest_cache build *.egg-info
