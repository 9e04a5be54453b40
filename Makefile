# One command each: `make run` (set up, then run the tutorial notebook) and `make test`
# (set up, then run every test). Both create the virtual environment .venv when it is
# missing or older than pyproject.toml.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KERNEL := rnn-tutorial
NOTEBOOK ?= notebooks/01_vanilla_rnn_mnist.ipynb
OUTPUT ?= output
PARAMS ?=
# make tensorboard: the folder it reads (every run's logs/ below it) and its port on 127.0.0.1
LOGDIR ?= $(OUTPUT)
PORT ?= 6006
# dev: JupyterLab, papermill, nbval, pytest; widgets: notebook 05's widget; cluster: Dask sweeps;
# tf1: the original TensorFlow 1 code (notebook 04); browser: the JupyterLab browser tests.
EXTRAS ?= dev,widgets,cluster,tf1,browser

.PHONY: setup run test lint lab tensorboard kernel-user notebooks clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 13) else "TensorFlow 2.21 needs Python 3.10 to 3.13; this is %d.%d. Run: make PYTHON=python3.11 ..." % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 ($(KERNEL))"
	touch $@

# Execute the tutorial notebook end to end; the executed copy, figures, metrics.json and
# the trained model land in $(OUTPUT)/ (ignored by git). Extra papermill options: PARAMS="-p epochs 3".
run: setup
	mkdir -p $(OUTPUT)
	$(BIN)/papermill $(NOTEBOOK) $(OUTPUT)/$(notdir $(NOTEBOOK)) --cwd notebooks --kernel $(KERNEL) $(PARAMS)

# pytest's exit code 5 means "no tests collected": not a failure of the project.
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests."; exit 0; fi; exit $$status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check rnn_helpers tests benchmarks tools

# Re-execute the committed notebooks top to bottom in a fresh kernel, as they are committed
# (outputs kept, timing metadata dropped). NOTEBOOKS="notebooks/02_inside_the_rnn.ipynb" for one.
notebooks: setup
	$(BIN)/python tools/execute_notebooks.py $(NOTEBOOKS)

# Open the notebooks in JupyterLab. Extra JupyterLab options: LAB_ARGS="--port=8890".
# As root (a container, CI) JupyterLab refuses to start without --allow-root: added then.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: setup
	$(BIN)/jupyter lab $(ROOT_ARGS) $(LAB_ARGS) notebooks

# Watch runs live and compare a sweep's runs: TensorBoard over $(LOGDIR) (default output/),
# reachable from this machine only, at http://127.0.0.1:$(PORT)/ (see docs/running.md).
# One sweep: make tensorboard LOGDIR=output/my-sweep PORT=6007
tensorboard: setup
	mkdir -p $(LOGDIR)
	$(BIN)/tensorboard --logdir $(LOGDIR) --host 127.0.0.1 --port $(PORT)

# Make the kernel visible to a Jupyter installed outside .venv as well.
kernel-user: setup
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python 3 ($(KERNEL))"

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache .ruff_cache
