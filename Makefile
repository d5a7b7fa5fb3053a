# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
VENV := .venv/bin
RESULTS := results

.PHONY: setup demo test test-sim soak lint bench clean

setup:
	bash scripts/setup.sh

# The main job: simulate every example and draw its timeline; sweep and compare. Where real XDP
# can run here, also run the one-stall examples on the veth testbed (at 20 us) and replay each from
# what it measured, measure the machine's pause profile, sweep over both backends, pool the sweep's
# trials into a profile, predict a trial and size the ring from it, and end with the comparison
# report (with the replayed curve, the prediction band and what each source costs).
HW_SETTINGS := --set interval=20us --set packets=20000 --set 'stalls.stalls=[["100ms","1.53ms"]]'
demo: setup
	@for scenario in examples/*.toml; do \
	  name=$$(basename $$scenario .toml); \
	  $(VENV)/ringlab sim $$scenario --out $(RESULTS)/$$name || exit 1; \
	  $(VENV)/ringlab plot $(RESULTS)/$$name >/dev/null || exit 1; \
	done
	$(VENV)/ringlab sweep examples/sweeps/interval.toml --out $(RESULTS)/sweep-interval
	@if $(VENV)/ringlab hw doctor >/dev/null 2>&1; then \
	  for policy in buggy fixed; do \
	    $(VENV)/ringlab hw trial examples/$$policy-one-stall.toml --testbed --out $(RESULTS)/hw-$$policy-one-stall $(HW_SETTINGS) || exit 1; \
	    $(VENV)/ringlab plot $(RESULTS)/hw-$$policy-one-stall --from 99.9ms --to 103ms >/dev/null || exit 1; \
	    $(VENV)/ringlab replay $(RESULTS)/hw-$$policy-one-stall --out $(RESULTS)/replay-$$policy-one-stall || exit 1; \
	  done; \
	  $(VENV)/ringlab hw profile --duration 10s --out $(RESULTS)/idle-profile || exit 1; \
	  $(VENV)/ringlab sweep examples/sweeps/hw-interval.toml --out $(RESULTS)/sweep-hw-interval || exit 1; \
	  $(VENV)/ringlab pool $$(dirname $$(grep -l '"backend": "hw"' $(RESULTS)/sweep-hw-interval/points/*/summary.json)) \
	    --out $(RESULTS)/profile || exit 1; \
	  $(VENV)/ringlab predict examples/fixed-one-stall.toml --profile $(RESULTS)/profile --out $(RESULTS)/predict $(HW_SETTINGS) || exit 1; \
	  $(VENV)/ringlab size examples/fixed-one-stall.toml --profile $(RESULTS)/profile --target-loss 0.001 --interval 20us \
	    --out $(RESULTS)/size || exit 1; \
	  $(VENV)/ringlab compare $(RESULTS)/sweep-hw-interval --out $(RESULTS)/report --profile $(RESULTS)/profile || exit 1; \
	else \
	  echo "real XDP cannot run here ('ringlab hw doctor' says why): simulator results only"; \
	  $(VENV)/ringlab compare $(RESULTS)/sweep-interval --out $(RESULTS)/report || exit 1; \
	fi
	@echo "results and timelines in $(RESULTS)/, the comparison in $(RESULTS)/report/report.md"

test: setup
	$(VENV)/python -m pytest -q

# A quick loop while changing the simulator or the analysis: every test but the real-XDP ones.
test-sim: setup
	$(VENV)/python -m pytest -q -m "not hardware"

# The real-XDP tests RUNS times in a row (default 5), with each test's failures counted.
soak: setup
	bash scripts/soak.sh $(or $(RUNS),5)

lint: setup
	$(VENV)/ruff check .

bench: setup
	$(VENV)/python benchmarks/sim_speed.py
	$(VENV)/python benchmarks/hw_shortest_interval.py

clean:
	rm -rf $(RESULTS)
