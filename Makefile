# The two commands the README promises: `make demo` and `make test`.
.PHONY: demo test soak bench lint clean

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

clean:
	rm -rf .venv .pytest_cache build *.egg-info
