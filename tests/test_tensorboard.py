"""TensorBoard: the event files a training run writes, the HParams sessions of a sweep, and
TensorBoard itself showing a sweep's runs (its HTTP API, and its dashboards in Chromium).

Event files are read back with TensorBoard's own reader (``EventAccumulator``), so what is
checked is what TensorBoard will show. The training tests use a small synthetic task (the
class is a bright column of the image) and run in seconds; notebook 01's papermill run
and the sweep need the real MNIST files. The browser test has the ``browser`` marker and
the skip/require rules of ``tests/test_browser.py`` (whose browser fixtures it uses), and
leaves its screenshots in ``tests/screenshots/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

# the browser fixtures and helpers of the JupyterLab tests (fixtures are found by name)
from test_browser import (  # noqa: F401
    browser,
    browser_path,
    free_port,
    screenshot_dir,
    screenshot_on_failure,
)

from rnn_helpers.runs import hparams, records
from rnn_helpers.training import History, TrainingDiverged, TrainingNotLearning, make_optimizer, train

ROOT = Path(__file__).resolve().parents[1]
NB01 = ROOT / "notebooks" / "01_vanilla_rnn_mnist.ipynb"
EXPERIMENT = ROOT / "sweeps" / "experiment.ipynb"
CLIP_NORM = 1.0  # the notebooks' clip_norm
TRAIN_TAGS = {"batch_loss", "gradient_norm", "epoch_loss", "epoch_accuracy", "learning_rate"}
VALIDATION_TAGS = {"epoch_loss", "epoch_accuracy"}
STARTUP_TIMEOUT_S = 120


def read_scalars(folder: Path, others: frozenset[str] = frozenset()) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of one TensorBoard run folder, as TensorBoard reads
    them: ``{tag: [(step, value), ...]}`` in the order written. Fails on any other summary
    (one the Scalars dashboard would not show) unless its tag is in ``others``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()["tensors"]:
        if tag in others:
            continue
        assert accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars", tag
        events = accumulator.Tensors(tag)
        scalars[tag] = [(event.step, float(tensor_util.make_ndarray(event.tensor_proto))) for event in events]
    return scalars


def read_session(folder: Path) -> dict:
    """The HParams session in a run's ``logs/hparams/`` folder: its group name, its
    parameters (as TensorBoard holds them) and the scalars beside it."""
    from google.protobuf.json_format import MessageToDict
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    content = accumulator.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    scalars = read_scalars(folder, others=frozenset({metadata.SESSION_START_INFO_TAG}))
    return {"group": info.group_name, "hparams": MessageToDict(info)["hparams"], "scalars": scalars}


def check_logs_against_history(logs: Path, history: dict, steps_per_epoch: int) -> None:
    """The event files in ``logs`` hold the expected tags, one value per epoch (step =
    epoch) equal to ``history`` (``History.as_dict()``, as in metrics.json), and every logged
    iteration's loss and gradient norm at its optimiser step."""
    runs = {"train": read_scalars(logs / "train"), "validation": read_scalars(logs / "validation")}
    assert set(runs["train"]) == TRAIN_TAGS and set(runs["validation"]) == VALIDATION_TAGS, runs.keys()
    per_epoch = {
        ("train", "epoch_loss"): "train_loss",
        ("train", "epoch_accuracy"): "train_accuracy",
        ("train", "learning_rate"): "learning_rate",
        ("validation", "epoch_loss"): "val_loss",
        ("validation", "epoch_accuracy"): "val_accuracy",
    }
    for (run, tag), key in per_epoch.items():
        written = runs[run][tag]
        assert [step for step, _ in written] == history["epoch"], (run, tag)
        # the files hold float32: equal to the history's float64 up to float32's rounding
        assert [value for _, value in written] == pytest.approx(history[key], rel=1e-6, abs=1e-9), (run, tag)
    logged = history["logged"]
    steps = [(entry["epoch"] - 1) * steps_per_epoch + entry["iteration"] + 1 for entry in logged]
    for tag, key in (("batch_loss", "loss"), ("gradient_norm", "gradient_norm")):
        assert [step for step, _ in runs["train"][tag]] == steps, tag
        assert [value for _, value in runs["train"][tag]] == pytest.approx([e[key] for e in logged], rel=1e-6)


def column_task(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 28×28 images whose class (0-9) is the one bright column, one-hot labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.5
    x[np.arange(n), :, labels] += 0.5
    return x, np.eye(10, dtype=np.float32)[labels]


def train_small(log_dir: Path, learning_rate: float, clip_norm: float | None, **options) -> History:
    """train() on the column task: 500 training images in batches of 50, 16 units, seed 0."""
    import keras

    from rnn_helpers.model import RNN

    keras.utils.set_random_seed(0)
    x, y = column_task()
    options = {"epochs": 2, "batch_size": 50, "display_freq": 1, **options}
    optimizer = make_optimizer(learning_rate, clip_norm=clip_norm, **options.pop("optimizer", {}))
    model = RNN(28, 28, 16, 10, seed=0)
    data = (x[:500], y[:500], x[500:], y[500:])
    return train(model, *data, seed=0, optimizer=optimizer, log=None, log_dir=log_dir, **options)


# --- training runs ------------------------------------------------------------------------


def test_train_writes_what_its_history_holds(tmp_path):
    schedule = {"lr_schedule": "cosine", "total_steps": 30}  # so that the learning rate changes
    history = train_small(tmp_path / "logs", 0.01, CLIP_NORM, epochs=3, display_freq=3, optimizer=schedule)
    recorded = history.as_dict()
    assert len(recorded["epoch"]) == 3 and len(recorded["logged"]) == 3 * 4  # iterations 0, 3, 6, 9
    assert len(set(recorded["learning_rate"])) == 3
    check_logs_against_history(tmp_path / "logs", recorded, steps_per_epoch=10)


def test_without_log_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    history = History(None, 10, 1)
    history.add_batch(0, 2.3, 0.1, 0.5)
    history.end_epoch(2.2, 0.2)
    history.close()
    assert list(tmp_path.iterdir()) == [] and history.logged[0]["gradient_norm"] == 0.5


def test_exploding_gradients_show_in_gradient_norm(tmp_path):
    """With a far too large learning rate and no clipping, the gradient norm TensorBoard
    shows rises past the clipping threshold; with the original rate it stays below."""
    with contextlib.suppress(TrainingDiverged, TrainingNotLearning):  # it may well stop early
        train_small(tmp_path / "exploding", 0.5, None)
    train_small(tmp_path / "gentle", 0.001, None)
    exploding = [value for _, value in read_scalars(tmp_path / "exploding" / "train")["gradient_norm"]]
    gentle = [value for _, value in read_scalars(tmp_path / "gentle" / "train")["gradient_norm"]]
    assert len(exploding) >= 5 and len(gentle) == 20  # every step logged (display_freq 1)
    assert all(math.isfinite(value) for value in exploding + gentle)
    assert max(exploding) > CLIP_NORM, f"the norm never passed {CLIP_NORM}: {exploding}"
    assert max(gentle) < CLIP_NORM < max(exploding)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_gradient_norm_stops_training_and_is_never_written(tmp_path, bad):
    history = History(None, 10, 1, log_dir=tmp_path)
    history.add_batch(0, 2.3, 0.1, 0.5)
    with pytest.raises(TrainingDiverged, match=f"The gradient norm became {bad} at epoch 1, iteration 1"):
        history.add_batch(1, 2.2, 0.1, bad)
    history.close()
    assert read_scalars(tmp_path / "train") == {
        "batch_loss": [(1, pytest.approx(2.3))],
        "gradient_norm": [(1, 0.5)],
    }
    assert len(history.logged) == 1


def test_a_run_that_diverges_keeps_its_logs_up_to_the_last_good_step(tmp_path):
    """Images that turn to NaN halfway through the second epoch: training stops with
    TrainingDiverged, and TensorBoard has every step before (no NaN)."""
    epochs_seen = []

    def poison_the_second_epoch(images: np.ndarray, rng) -> np.ndarray:
        epochs_seen.append(len(epochs_seen) + 1)
        if len(epochs_seen) == 2:
            images = images.copy()
            images[150:] = np.nan  # batches 3 onwards of 50 images
        return images

    with pytest.raises(TrainingDiverged, match="The loss became nan at epoch 2, iteration 3"):
        train_small(tmp_path / "logs", 0.001, CLIP_NORM, augment=poison_the_second_epoch)
    written = read_scalars(tmp_path / "logs" / "train")
    assert [step for step, _ in written["gradient_norm"]] == list(range(1, 14))  # 10 steps, then 3
    assert all(math.isfinite(value) for tag in written for _, value in written[tag])
    assert [step for step, _ in written["epoch_loss"]] == [1]


@pytest.mark.slow
@pytest.mark.realdata
def test_notebook01_writes_event_files_equal_to_its_metrics(tmp_path):
    import papermill
    from test_notebooks import need

    need("mnist")
    out = tmp_path / "out"
    parameters = {"epochs": 2, "n_train": 2000, "display_freq": 5, "output_dir": str(out)}
    papermill.execute_notebook(
        NB01,
        tmp_path / "executed.ipynb",
        parameters,
        kernel_name="python3",
        cwd=str(NB01.parent),
        progress_bar=False,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert history["epoch"] == [1, 2] and len(history["logged"]) == 2 * 4  # iterations 0, 5, 10, 15 of 20
    check_logs_against_history(out / "logs", history, steps_per_epoch=2000 // 100)
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["train", "validation"]


def test_the_overhead_benchmark_trains_both_ways_alike(tmp_path, capsys):
    """benchmarks/tensorboard_overhead.py on a tiny task: both ways timed every round, the
    same training, and event files from the logging way only."""
    spec = importlib.util.spec_from_file_location(
        "tensorboard_overhead", ROOT / "benchmarks" / "tensorboard_overhead.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = benchmark  # (its dataclass looks its module up)
    spec.loader.exec_module(benchmark)
    x, y = column_task(300)
    data = {"x_train": x[:200], "y_train": y[:200], "x_valid": x[200:], "y_valid": y[200:]}
    config = {"epochs": 2, "units": 8, "batch_size": 50, "display_freq": 2, "seed": 0, "step": "plain"}
    result = benchmark.measure(data, config, tmp_path / "logs")
    for clock in ("wall", "cpu"):
        assert [len(result[clock][way]) for way in ("with_logs", "without_logs")] == [2, 2], clock
        assert all(seconds > 0 for way in result[clock].values() for seconds in way), clock
    assert result["val_accuracy"]["with_logs"] == result["val_accuracy"]["without_logs"]
    written = read_scalars(tmp_path / "logs" / "validation")["epoch_accuracy"]
    assert [step for step, _ in written] == [1, 2, 3]  # the warm-up epoch, then the two timed ones
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["train", "validation"]
    assert result["bookkeeping_ms"]["with_logs"] > 0
    machine = {"cpu": records.cpu_model(), "cores": 2, "tensorflow": "TensorFlow", "load_before": [],
               "load_after": []}  # fmt: skip
    measured = benchmark.report(result, {**config, "n_train": 200, "control": False}, machine)
    assert measured["wall"]["ratio"] > 0 and measured["same_val_accuracy"] is True
    assert machine["cpu"] and "ratio with / without" in capsys.readouterr().out


# --- a sweep's HParams sessions -----------------------------------------------------------


def test_a_sweep_session_holds_the_varied_parameters_and_both_accuracies(tmp_path):
    varied = {"learning_rate": 0.01, "cell": "lstm", "fast": True, "ema_momentum": None, "epochs": 3}
    results = {"val_accuracy": 0.9712, "test_accuracy": 0.9655, "parameter_count": 1234}
    files = hparams.session_files("cell=lstm,learning_rate=0.01", varied, results)
    assert list(files) == ["logs/hparams/events.out.tfevents.hparams"]
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_bytes(content)
    session = read_session(tmp_path / "logs" / "hparams")
    assert session["group"] == "cell=lstm,learning_rate=0.01"
    expected = {"learning_rate": 0.01, "cell": "lstm", "fast": True, "ema_momentum": "None", "epochs": 3.0}
    assert session["hparams"] == expected
    # named as in results.csv, at step 0, and nothing else (the curves stay in logs/train, ...)
    assert session["scalars"] == {
        "val_accuracy": [(0, pytest.approx(0.9712))],
        "test_accuracy": [(0, pytest.approx(0.9655))],
    }


def test_a_missing_accuracy_is_left_out_and_tensorflow_is_not_imported():
    code = (
        "import sys; from rnn_helpers.runs import hparams\n"
        "files = hparams.session_files('r', {'seed': 1}, {'val_accuracy': 0.5, 'test_accuracy': None})\n"
        "print(sum(map(len, files.values())), 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    size, imported = done.stdout.split()
    assert int(size) > 0 and imported == "False", "writing a session must not import TensorFlow"
    files = hparams.session_files("r", {"seed": 1}, {"val_accuracy": 0.5, "test_accuracy": None})
    assert b"val_accuracy" in files["logs/hparams/events.out.tfevents.hparams"]
    assert b"test_accuracy" not in files["logs/hparams/events.out.tfevents.hparams"]


# --- make tensorboard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [([], "--logdir output --host 127.0.0.1 --port 6006"),
     (["PORT=6007", "LOGDIR=output/my-sweep"], "--logdir output/my-sweep --host 127.0.0.1 --port 6007")],
    ids=["defaults", "port-and-logdir"],
)  # fmt: skip
def test_make_tensorboard_serves_a_folder_on_this_machine_only(options, expected, tmp_path):
    """``make tensorboard``'s recipe (as ``make -n`` prints it, the set-up step taken as done)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv = Path(sys.prefix)
    command = [make, "--no-print-directory", "-n", "-f", str(ROOT / "Makefile"), "-o", f"{venv}/.installed",
               "tensorboard", f"VENV={venv}", *options]  # fmt: skip
    printed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert printed.splitlines()[-1] == f"{venv}/bin/tensorboard {expected}", printed
    assert "pip install" not in printed and list(tmp_path.iterdir()) == []


# --- TensorBoard over a real two-run sweep ------------------------------------------------


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A two-run sweep of the experiment notebook (two learning rates), in a temporary folder."""
    from test_notebooks import need

    from rnn_helpers.runs.sweep import run_sweep

    need("mnist")
    root = tmp_path_factory.mktemp("sweep")
    common = {"n_train": 500, "epochs": 3, "num_hidden_units": 8}  # a few epochs: curves, not dots
    sets = [{**common, "learning_rate": rate} for rate in (0.001, 0.03)]
    rows = run_sweep(EXPERIMENT, sets, root, kernel_name="python3", progress=False)
    assert [row["status"] for row in rows] == ["done", "done"], rows
    return root, rows


def get_json(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def board(sweep, tmp_path_factory):
    """TensorBoard (the environment's ``tensorboard`` command) over the sweep on a free
    127.0.0.1 port, once it lists all six runs; stopped by its process id at the end."""
    root, rows = sweep
    port = free_port()
    log = tmp_path_factory.mktemp("tensorboard") / "tensorboard.log"
    tensorboard = str(Path(sys.executable).parent / "tensorboard")
    command = [
        tensorboard,
        "--logdir",
        str(root),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--reload_interval",
        "2",
    ]
    with open(log, "wb") as out:  # a session of its own, stopped with everything it started
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    expected = {f"{row['run']}/logs/{sub}" for row in rows for sub in ("train", "validation", "hparams")}
    try:
        wait_for_runs(process, url, expected, log)
        yield url, rows
    finally:
        stop(process)


def wait_for_runs(process: subprocess.Popen, url: str, expected: set[str], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    runs: list = []
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"TensorBoard exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            runs = get_json(f"{url}data/runs")
            if expected <= set(runs):
                return
        time.sleep(1)
    pytest.fail(f"TensorBoard at {url} listed {runs}, not {sorted(expected)}:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to TensorBoard's process group, SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # its data server, if left behind
        os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.realdata
def test_tensorboard_compares_the_sweeps_runs_in_hparams(board):
    url, rows = board
    experiment = get_json(f"{url}data/plugin/hparams/experiment", {"experimentName": ""})
    assert sorted(m["name"]["tag"] for m in experiment["metricInfos"]) == ["test_accuracy", "val_accuracy"]
    assert {h["name"] for h in experiment["hparamInfos"]} == {
        "n_train",
        "epochs",
        "num_hidden_units",
        "learning_rate",
    }
    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
    request = {
        "experimentName": "",
        "startIndex": 0,
        "sliceSize": 100,
        "colParams": [],
        "allowedStatuses": statuses,
    }
    listed = get_json(f"{url}data/plugin/hparams/session_groups", request)["sessionGroups"]
    groups = {group["name"]: group for group in listed}
    assert sorted(groups) == sorted(row["run"] for row in rows)
    for row in rows:
        group = groups[row["run"]]
        assert group["hparams"]["learning_rate"] == pytest.approx(row["learning_rate"])
        shown = {value["name"]["tag"]: value["value"] for value in group["metricValues"]}
        assert shown == {
            "val_accuracy": pytest.approx(row["val_accuracy"], rel=1e-6),
            "test_accuracy": pytest.approx(row["test_accuracy"], rel=1e-6),
        }
    tags = get_json(f"{url}data/plugin/scalars/tags")
    for row in rows:
        assert set(tags[f"{row['run']}/logs/train"]) == TRAIN_TAGS
        assert set(tags[f"{row['run']}/logs/validation"]) == VALIDATION_TAGS


@pytest.fixture
def page(browser):  # noqa: F811 (the fixture imported above)
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.realdata
def test_tensorboard_shows_the_sweeps_runs_in_chromium(board, page):
    url, rows = board
    with screenshot_on_failure(page, "tensorboard"):
        show_the_curves(page, url, rows)
        show_the_hparams(page, url, rows)


def show_the_curves(page, url: str, rows: list[dict]) -> None:
    """The Scalars dashboard lists both runs' curves and draws them (screenshot)."""
    page.goto(f"{url}#scalars", timeout=STARTUP_TIMEOUT_S * 1000)
    for row in rows:  # in the runs selector
        for sub in ("train", "validation"):
            page.get_by_text(f"{row['run']}/logs/{sub}", exact=True).wait_for(timeout=60_000)
    # the values as they are: no smoothing, no outliers left out of the scale (a few epochs only)
    page.locator("input[type=number]").first.fill("0")
    page.get_by_text("Ignore outliers in chart scaling").click()
    page.locator("tf-tag-filterer input").fill("epoch_accuracy|epoch_loss|gradient_norm")
    page.get_by_text("Tags matching").first.wait_for(timeout=30_000)
    page.wait_for_timeout(3000)  # the charts draw their lines
    drawn = page.locator("tf-scalar-card svg path.line").evaluate_all(
        "paths => paths.filter(p => (p.getAttribute('d') || '').length > 10).length"
    )
    # 3 charts: epoch_accuracy and epoch_loss with train and validation, gradient_norm with train
    assert drawn >= 5 * len(rows), f"only {drawn} curves drawn"
    page.screenshot(path=str(screenshot_dir() / "tensorboard_scalars.png"))


def show_the_hparams(page, url: str, rows: list[dict]) -> None:
    """The HParams dashboard's table has a row per run with both accuracies, and its
    parallel-coordinates view an axis per parameter and accuracy (screenshots)."""
    page.goto(f"{url}#hparams")
    for row in rows:  # the table's rows come after its header
        page.get_by_text(row["run"], exact=True).first.wait_for(timeout=60_000)
    for column in ("learning_rate", "val_accuracy", "test_accuracy"):
        assert page.get_by_text(column, exact=True).count() >= 1, f"no {column} column"
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshot_dir() / "tensorboard_hparams.png"))
    page.get_by_text("PARALLEL COORDINATES VIEW").click()
    page.get_by_text("Color by").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2000)  # the lines are drawn
    page.screenshot(path=str(screenshot_dir() / "tensorboard_hparams_parallel.png"))
