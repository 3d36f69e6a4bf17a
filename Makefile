# The two commands of the README: `make demo` (the whole pipeline on an emulated board) and `make test`.
# Both install whatever is missing first (scripts/setup.sh, idempotent).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/tinyml-fw deploy --json tinyml-fw-out/demo.json

# The op tables run every 4th parameter set here; bench/op_table.py runs them whole.
test: setup
	TFW_OP_TABLE_EVERY=$${TFW_OP_TABLE_EVERY:-4} $(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/link.py
	$(BIN)/python bench/fuzz.py --seconds $${TFW_FUZZ_SECONDS:-600}

clean:
	rm -rf tinyml-fw-out .pytest_cache
