# The two commands the README opens with: `make demo` and `make test`.
# Both bootstrap the machine first (Java 17, .venv with locked packages, Delta jars).
.PHONY: setup demo test test-unit test-vscode lint lock bench help

help:
	@echo "make demo      run the main job end to end on the embedded local default"
	@echo "make test      run the whole test suite (unit + integration, real engines)"
	@echo "make test-unit run only the fast unit tests"
	@echo "make test-vscode  the VS Code extension's own tests (npm test in ide/vscode)"
	@echo "make lint      ruff"
	@echo "make setup     only prepare the machine (.venv, Java check, Delta jars)"
	@echo "make lock      regenerate requirements.lock (every extra but vllm, which pins its own torch)"

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	.venv/bin/python -m pytest -q --durations=40

test-unit: setup
	.venv/bin/python -m pytest -q -m "not integration"

test-vscode: setup
	cd ide/vscode && npm test

lint: setup
	.venv/bin/ruff check .

# Every extra except `vllm` (it pins its own torch; see pyproject.toml). Existing pins are kept.
lock:
	uv pip compile pyproject.toml --extra curate --extra train --extra serve --extra dev --python-version 3.11 -o requirements.lock
