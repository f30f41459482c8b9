# The two commands of the README: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test test-slow bench bench-live screenshots clean

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/rapport-assist sidebar

# everything but the suites marked `slow` (a few minutes); CI (.ci/run) runs test-slow after it.
# Spread over one worker process per core, at most 4 (pytest-xdist; each worker loads the models
# once, a few hundred MB): `make test TEST_JOBS=0` runs it in one process.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test: setup
	@.venv/bin/python -m pytest -q -m "not slow" -n $(TEST_JOBS)

# one process: its live calls through PulseAudio measure timing, and a few long tests dominate
test-slow: setup
	@.venv/bin/python -m pytest -q -m slow

bench: setup
	@.venv/bin/python bench/replay_speed.py
	@.venv/bin/python bench/rules_speed.py --repeat 3
	@.venv/bin/python bench/qa_throughput.py
	@.venv/bin/python bench/sidebar_startup.py
	@.venv/bin/python bench/second_start.py

screenshots: setup
	@.venv/bin/python scripts/screenshots.py

bench-live: setup
	@.venv/bin/python bench/live_latency.py

clean:
	rm -rf .venv .pytest_cache .hypothesis build src/*.egg-info
