# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
VENV := .venv/bin
RESULTS := results

.PHONY: setup demo test bench clean

setup:
	bash scripts/setup.sh

# The main job: simulate every example, draw its timeline.
demo: setup
	@for scenario in examples/*.toml; do \
	  name=$$(basename $$scenario .toml); \
	  $(VENV)/ringlab sim $$scenario --out $(RESULTS)/$$name || exit 1; \
	  $(VENV)/ringlab plot $(RESULTS)/$$name >/dev/null || exit 1; \
	done
	@echo "results and timelines in $(RESULTS)/"

test: setup
	$(VENV)/python -m pytest -q

bench: setup
	$(VENV)/python benchmarks/sim_speed.py

clean:
	rm -rf $(RESULTS)
