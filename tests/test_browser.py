"""The notebooks as people use them: JupyterLab in a real browser (Chromium driven by Playwright).

A JupyterLab server is started from this environment (``python -m jupyter lab``) on a free
127.0.0.1 port, serving *prepared copies* of the notebooks in a temporary folder (small
parameters injected with papermill's ``prepare_only``, outputs cleared), so nothing is
written into the repository or ``output/``. For every ``notebooks/*.ipynb`` the test opens
it, checks the kernel JupyterLab shows, runs all cells from the **Run** menu, waits for the
kernel, and checks that every code cell ran, nothing failed and the figures are on the
page. The draw-a-digit widget of notebook 05 is drawn on with the mouse. ``make lab`` is
checked too. Screenshots go to ``tests/screenshots/`` (ignored by git;
``RNN_HELPERS_SCREENSHOTS`` chooses another folder) for a person to look at.

Needs the ``browser`` extra (Playwright) and a Chromium: Debian's ``chromium`` package
(``apt install chromium``) or ``RNN_HELPERS_BROWSER=/path/to/chrome``; Playwright's own
browser download is not used. Without them these tests skip, unless
``RNN_HELPERS_REQUIRE_BROWSER=1`` (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "rnn-tutorial"
KERNEL_DISPLAY_NAME = "Python 3 (rnn-tutorial)"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Small parameters, so that every notebook runs in seconds; only those a notebook declares
# in its parameters cell are passed. model_dir = None: notebooks 02 and 05 train their own
# network. Notebook 05 keeps 3 epochs on all of MNIST: its quick model must read drawn digits.
SMALL = {"epochs": 1, "n_train": 2000, "model_dir": None}
OVERRIDES = {"05_draw_a_digit": {"epochs": 3}}
RUN_TIMEOUT_S = 240  # the longest one notebook may take to run in the browser
STARTUP_TIMEOUT_S = 90


def require_browser() -> bool:
    """True where the browser tests must run (CI sets RNN_HELPERS_REQUIRE_BROWSER=1)."""
    return os.environ.get("RNN_HELPERS_REQUIRE_BROWSER", "") not in ("", "0")


def unavailable(reason: str):
    """Skip with ``reason``, or fail with it where the browser tests are required."""
    if require_browser():
        pytest.fail(f"{reason} (RNN_HELPERS_REQUIRE_BROWSER=1 requires the browser tests)")
    pytest.skip(reason)


def find_browser() -> str | None:
    """The Chromium to drive: $RNN_HELPERS_BROWSER, else the first of BROWSER_NAMES on the PATH."""
    chosen = os.environ.get("RNN_HELPERS_BROWSER")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("RNN_HELPERS_SCREENSHOTS") or ROOT / "tests" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_options(port: int) -> list[str]:
    """JupyterLab options for a test server: this port only, no token, no browser, no update checks."""
    options = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # else it silently moves to another port
        "--IdentityProvider.token=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.append("--allow-root")
    return options


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for a test server: Jupyter's folders in ``home``, this project on the path.

    JUPYTER_DATA_DIR is isolated too, so only kernels installed in the environment itself
    (``--sys-prefix``, as ``make setup`` does) are found, not ones from a user's own folder.
    """
    env = dict(os.environ)
    folders = {
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTERLAB_SETTINGS_DIR": "settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        "IPYTHONDIR": "ipython",
    }
    for name, sub in folders.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    # no news or update pop-up over the page; every cell attached to the page (no windowing)
    settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"windowingMode": "none"},
    }
    for plugin, values in settings.items():
        path = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    # the kernels import this checkout's rnn_helpers
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Server:
    """A JupyterLab server started by a test."""

    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_serving(server: Server, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer at {server.url} within {timeout:.0f} s:\n{server.log_tail()}")


def start_server(command: list[str], cwd: Path, env: dict[str, str], url: str, log: Path) -> Server:
    # a session of its own, so that it and everything it starts (kernels, make's shell) can
    # be stopped together by its process id
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, url, log)
    try:
        wait_until_serving(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    """Stop the server's process group (SIGTERM, then SIGKILL after 20 s)."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)  # Jupyter shuts its kernels down, then exits
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # kernels left behind in the group
        os.killpg(server.process.pid, signal.SIGKILL)


def prepare_notebooks(folder: Path, output_root: Path) -> list[Path]:
    """Copies of every notebook with small parameters injected and outputs cleared, in ``folder``.

    Also copies what notebooks read relative to themselves (``sweeps/results``).
    """
    import nbformat
    import papermill
    from papermill.inspection import inspect_notebook

    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "sweeps" / "results", folder.parent / "sweeps" / "results")
    shutil.copy(ROOT / "pyproject.toml", folder.parent)  # a project folder, as a checkout is
    prepared = []
    for notebook in NOTEBOOKS:
        declared = inspect_notebook(str(notebook))
        wanted = {**SMALL, **OVERRIDES.get(notebook.stem, {})}
        parameters = {name: value for name, value in wanted.items() if name in declared}
        if "output_dir" in declared:
            parameters["output_dir"] = str(output_root / notebook.stem)
        target = folder / notebook.name
        papermill.execute_notebook(
            str(notebook), str(target), parameters=parameters, prepare_only=True, progress_bar=False
        )
        nb = nbformat.read(target, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, target)
        prepared.append(target)
    return prepared


def figures_in(notebook: Path) -> int:
    """How many PNG figures the committed (executed) notebook shows."""
    nb = json.loads(notebook.read_text())
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    )


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[browser]'")
    chosen = os.environ.get("RNN_HELPERS_BROWSER")
    if chosen and not Path(chosen).is_file():
        unavailable(
            f"RNN_HELPERS_BROWSER={chosen} is not a file: point it at a Chromium or Chrome executable"
        )
    path = find_browser()
    if path is None:
        unavailable(
            "No Chromium found (looked for $RNN_HELPERS_BROWSER, then " + ", ".join(BROWSER_NAMES) + " "
            "on the PATH): install Debian's with `sudo apt install chromium`"
        )
    return path


@pytest.fixture(scope="module")
def kernel_installed() -> None:
    """The notebooks' kernel must be installed in this environment, as ``make setup`` does."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager(kernel_dirs=[str(Path(sys.prefix) / "share" / "jupyter" / "kernels")])
    try:
        spec = manager.get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        pytest.fail(
            f"The kernel {KERNEL_NAME!r} is not installed in {sys.prefix}: run `make setup`, or "
            f"`{Path(sys.executable).name} -m ipykernel install --sys-prefix --name {KERNEL_NAME} "
            f'--display-name "{KERNEL_DISPLAY_NAME}"`.'
        )
    assert spec.display_name == KERNEL_DISPLAY_NAME, f"kernel {KERNEL_NAME!r} is named {spec.display_name!r}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A temporary project folder: ``notebooks/`` (prepared copies), ``sweeps/results``, ``output/``."""
    base = tmp_path_factory.mktemp("lab")
    prepare_notebooks(base / "notebooks", base / "output")
    return base


@pytest.fixture(scope="module")
def lab(browser_path, kernel_installed, workspace, tmp_path_factory):
    """JupyterLab from this environment, serving the prepared notebooks."""
    home = tmp_path_factory.mktemp("jupyter-home")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        *lab_options(port),
        "--LabApp.expose_app_in_browser=True",  # lets the tests shut kernels down between notebooks
        f"--ServerApp.root_dir={workspace / 'notebooks'}",
    ]
    server = start_server(
        command, workspace / "notebooks", isolated_env(home), f"http://127.0.0.1:{port}/", home / "lab.log"
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser(browser_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=browser_path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


# --- what a person does in JupyterLab ---------------------------------------------------------


def open_notebook(page, server: Server, name: str):
    # a fresh workspace, so that notebooks opened by earlier tests are not reopened
    page.goto(f"{server.url}lab/tree/{name}?reset", timeout=STARTUP_TIMEOUT_S * 1000)
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    panel.wait_for(state="visible", timeout=STARTUP_TIMEOUT_S * 1000)
    # a kernel is chosen and started, and idle, before anything is run; when the notebook's
    # kernel is not installed, JupyterLab asks instead, offering its default kernel
    kernel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName").first
    kernel.wait_for(state="visible", timeout=STARTUP_TIMEOUT_S * 1000)
    page.wait_for_function(
        "el => document.querySelector('.jp-Dialog')"
        " || !['', 'No Kernel', 'Kernel'].includes(el.textContent.trim())",
        arg=kernel.element_handle(),
        timeout=STARTUP_TIMEOUT_S * 1000,
    )
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        asked = " ".join(dialog.first.inner_text().split())
        raise AssertionError(
            f"JupyterLab asks which kernel to run {name} with ({asked!r}): the kernel the notebook "
            f"names is not installed. Run `make setup` to install {KERNEL_DISPLAY_NAME!r}."
        )
    kernel_status(page, "idle", timeout=STARTUP_TIMEOUT_S)
    return panel


def kernel_name_shown(page) -> str:
    button = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName").first
    return button.inner_text().strip()


def kernel_status(page, wanted: str, timeout: float) -> None:
    indicator = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator").first
    indicator.wait_for(state="attached", timeout=timeout * 1000)
    page.wait_for_function(
        "([el, wanted]) => el.getAttribute('data-status') === wanted",
        arg=[indicator.element_handle(), wanted],
        timeout=timeout * 1000,
    )


def run_all_from_the_menu(page) -> None:
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu").get_by_text("Run All Cells", exact=True).click()


def prompts(page) -> list[str]:
    return page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt"
    ).all_inner_texts()


def wait_until_all_ran(page, timeout: float) -> None:
    """Every code cell has an execution count, and the kernel is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = [p.strip() for p in prompts(page)]
        if shown and all(p[1:-2].strip().isdigit() for p in shown):
            break
        time.sleep(1)
    kernel_status(page, "idle", timeout=max(deadline - time.monotonic(), 5))


def whole_notebook_screenshot(page, path: Path, max_height: int = 12000) -> None:
    """A picture of the whole notebook (up to ``max_height`` pixels), from the top.

    JupyterLab scrolls inside the notebook panel, not the page, so the window is made as
    tall as the notebook for the picture, then set back.
    """
    scroller = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").first
    content, visible = scroller.evaluate("el => [el.scrollHeight, el.clientHeight]")
    size = page.viewport_size
    page.set_viewport_size(
        {"width": size["width"], "height": min(size["height"] + content - visible, max_height)}
    )
    scroller.evaluate("el => el.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty')"
        " && !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=30_000,
    )


def shut_down_kernels(page) -> None:
    page.evaluate("async () => { await window.jupyterapp.serviceManager.sessions.shutdownAll(); }")


# --- the tests ------------------------------------------------------------------------------


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    """On any failure inside, keep a picture of the page as it was."""
    try:
        yield
    except BaseException:
        page.screenshot(path=str(screenshot_dir() / f"{name}-FAILED.png"), full_page=True)
        raise


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(notebook, lab, page, workspace):
    with screenshot_on_failure(page, notebook.stem):
        run_in_jupyterlab(notebook, lab, page, workspace)


def run_in_jupyterlab(notebook: Path, lab: Server, page, workspace: Path) -> None:
    shots = screenshot_dir()
    open_notebook(page, lab, notebook.name)
    assert kernel_name_shown(page) == KERNEL_DISPLAY_NAME, (
        f"JupyterLab opened {notebook.name} with another kernel than {KERNEL_DISPLAY_NAME!r}: "
        "is the notebook's kernelspec right, and was `make setup` run?"
    )
    n_cells = len(prompts(page))
    assert n_cells == sum(c["cell_type"] == "code" for c in json.loads(notebook.read_text())["cells"]) + 1, (
        "every code cell (and papermill's injected parameters) should be on the page"
    )
    assert page.locator(".jp-OutputArea-output img").count() == 0, "the prepared copy has no outputs"

    run_all_from_the_menu(page)
    wait_until_all_ran(page, RUN_TIMEOUT_S)
    whole_notebook_screenshot(page, shots / f"{notebook.stem}.png")
    shown = [p.strip() for p in prompts(page)]
    counts = [int(p[1:-2]) for p in shown]
    assert counts == list(range(1, n_cells + 1)), f"cells ran out of order or not at all: {shown}"

    images = page.locator(".jp-OutputArea-output img")
    expected_figures = figures_in(notebook)
    assert images.count() >= expected_figures, (
        f"{images.count()} figures on the page, the committed notebook shows {expected_figures}"
    )
    for i in range(images.count()):  # decoded and laid out, not a broken image
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), f"figure {i} is broken"

    save(page)
    ran = json.loads((workspace / "notebooks" / notebook.name).read_text())
    errors = [
        f"{o['ename']}: {o['evalue']}"
        for cell in ran["cells"]
        if cell["cell_type"] == "code"
        for o in cell["outputs"]
        if o["output_type"] == "error"
    ]
    assert not errors, f"{notebook.name} failed in JupyterLab: {errors}"
    assert all(c["execution_count"] for c in ran["cells"] if c["cell_type"] == "code")

    if notebook.stem == "05_draw_a_digit":
        check_drawing(page, shots)
    shut_down_kernels(page)


def test_a_missing_kernel_is_caught(lab, page, workspace):
    """The kernel check can fail: a notebook naming a kernel that is not installed."""
    import nbformat

    folder = workspace / "notebooks" / "missing-kernel"
    folder.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.metadata.kernelspec = {"name": "no-such-kernel", "display_name": "Python 3 (no-such-kernel)"}
    nbformat.write(nb, folder / "missing.ipynb")
    with pytest.raises(AssertionError, match="the kernel the notebook names is not installed"):
        open_notebook(page, lab, "missing-kernel/missing.ipynb")
    page.screenshot(path=str(screenshot_dir() / "missing_kernel.png"))


def draw(page, canvas, points: list[tuple[float, float]]) -> None:
    """Draw one stroke with the mouse through ``points`` given in 280×280 canvas units."""
    box = canvas.bounding_box()
    scale = box["width"] / 280

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*at(x, y), steps=3)
    page.mouse.up()


def check_drawing(page, shots: Path) -> None:
    """Draw a 1 and a 0 on the widget and read the answers it shows."""
    import math

    widget = page.locator(".rnn-reader").first
    widget.scroll_into_view_if_needed()
    pad = widget.locator(".rnn-reader-pad")
    answer = widget.locator(".rnn-reader-answer")
    assert answer.get_attribute("data-prediction") == "-1"
    assert "quick model trained here" in widget.locator(".rnn-reader-note").inner_text()

    draw(page, pad, [(140, 40 + 10 * i) for i in range(21)])  # a vertical stroke: "1"
    expect_answer(page, answer, "1")
    page.wait_for_function(
        "el => el.textContent.startsWith('after row 28 of 28')",
        arg=widget.locator(".rnn-reader-row").element_handle(),
    )
    widget.screenshot(path=str(shots / "05_widget_drawn_1.png"))
    assert dark_pixels(widget.locator(".rnn-reader-input")) > 100, "the 28×28 image is not shown"
    assert widget.locator(".rnn-reader-bar-best").count() == 1

    # the slider goes back to any row
    slider = widget.locator(".rnn-reader-slider")
    slider.fill("10")
    assert widget.locator(".rnn-reader-row").inner_text().startswith("after row 10 of 28")

    widget.locator(".rnn-reader-clear").click()
    expect_answer(page, answer, "-1")
    oval = [
        (140 + 60 * math.sin(a / 20 * 2 * math.pi), 140 - 95 * math.cos(a / 20 * 2 * math.pi))
        for a in range(21)
    ]
    draw(page, pad, oval)  # "0"
    expect_answer(page, answer, "0")
    page.wait_for_timeout(2500)  # let the animation through the rows finish, for the picture
    widget.screenshot(path=str(shots / "05_widget_drawn_0.png"))
    assert widget.locator(".rnn-reader-error").inner_text() == ""


def expect_answer(page, answer, wanted: str, timeout: float = 30) -> None:
    try:
        page.wait_for_function(
            "([el, wanted]) => el.dataset.prediction === wanted",
            arg=[answer.element_handle(), wanted],
            timeout=timeout * 1000,
        )
    except Exception as error:
        shown = answer.get_attribute("data-prediction")
        raise AssertionError(
            f"the widget shows {shown!r} ({answer.inner_text()!r}), expected {wanted}"
        ) from error


def dark_pixels(canvas) -> int:
    return canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }"""
    )


def test_make_lab_serves_the_notebooks_with_their_kernel(
    workspace, kernel_installed, browser_path, page, tmp_path
):
    """``make lab`` (its recipe, without the set-up step) starts a server with the project's kernel."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    port = free_port()
    venv = Path(sys.prefix)
    # -o: take the environment as set up (this is the environment running the tests); LAB_ARGS
    # adds the test server's options; the recipe serves ./notebooks, here the prepared copies
    command = [
        make,
        "--no-print-directory",
        "-f",
        str(ROOT / "Makefile"),
        "-o",
        f"{venv}/.installed",
        "lab",
        f"VENV={venv}",
        "LAB_ARGS=" + " ".join(lab_options(port)),
    ]
    dry_run = subprocess.run(
        [*command, "-n"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install" not in dry_run and f"{venv}/bin/jupyter lab" in dry_run, dry_run
    server = start_server(
        command, workspace, isolated_env(tmp_path), f"http://127.0.0.1:{port}/", tmp_path / "make-lab.log"
    )
    try:
        with urllib.request.urlopen(f"{server.url}api/contents/", timeout=10) as response:
            listed = sorted(
                item["name"] for item in json.load(response)["content"] if item["type"] == "notebook"
            )
        assert listed == sorted(n.name for n in NOTEBOOKS), f"make lab serves {listed}"
        name = NOTEBOOKS[0].name
        open_notebook(page, server, name)
        assert kernel_name_shown(page) == KERNEL_DISPLAY_NAME
        page.screenshot(path=str(screenshot_dir() / "make_lab.png"))
    finally:
        stop_server(server)
