"""Output folders: results written all at once, never a file lost that a run did not write,
and every reason the final swap could fail found before any training.

Each class of fault here was a way to lose, displace or mix a user's files before these
rules: files with a run-like name deleted, a read-only folder found only after training,
a symbolic link replaced by a folder, a lock that did not follow the link, litter left by
a refused run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import leftover_files
from rnn_helpers.runs.folders import (
    MANIFEST,
    OutputDirError,
    RunFolder,
    lock_path,
    resolve_output_dir,
    store_files,
)
from rnn_helpers.runs.records import display_path, project_root


def finish(run: RunFolder, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (run.path / name).write_text(text)
    return run.commit()


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file()}


def test_output_dir_default_lands_in_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_HELPERS_OUTPUT", raising=False)
    root = project_root()
    assert root is not None and (root / "rnn_helpers").is_dir()
    assert display_path(root / "output" / "demo-run" / "m.json") == "output/demo-run/m.json"
    project = tmp_path / "project"  # a stand-in project, so that nothing is created in the real one
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "rnn-helpers"\n')
    monkeypatch.chdir(project / "notebooks")
    assert project_root() == project
    assert resolve_output_dir(None, "demo-run") == project / "output" / "demo-run"
    assert not (project / "output").exists(), "resolving creates nothing"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert project_root() is None
    assert resolve_output_dir("here", "x") == outside / "here"
    assert resolve_output_dir(None, "x") == outside / "output" / "x"
    monkeypatch.setenv("RNN_HELPERS_OUTPUT", str(tmp_path / "test-results"))
    assert resolve_output_dir(None, "x") == tmp_path / "test-results" / "x"


def test_tests_do_not_write_into_the_projects_output_folder():
    """The root conftest points the default output root away from the project for every
    pytest session, however started (nbval's and papermill's kernels inherit it)."""
    assert resolve_output_dir(None, "01_vanilla_rnn_mnist").parent != project_root() / "output"


def test_a_run_folder_is_replaced_all_at_once(tmp_path):
    out = tmp_path / "out"
    first = RunFolder.open(str(out), "nb")
    assert first.final == out and not out.exists(), "nothing appears before the commit"
    assert finish(first, {"metrics.json": "1", "a.png": "1"}) == [out / "a.png", out / "metrics.json"]
    second = RunFolder.open(str(out), "nb")
    (second.path / "metrics.json").write_text("2")
    assert contents(out) == {MANIFEST: contents(out)[MANIFEST], "a.png": "1", "metrics.json": "1"}
    finish(second, {"b.png": "2"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "b.png", "metrics.json"]
    assert (out / "metrics.json").read_text() == "2", "the old run's a.png is gone, nothing is mixed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folder, no lock file is left"


def test_a_failed_run_leaves_the_previous_results(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "good", "model.keras": "good"})
    failed = RunFolder.open(str(out), "nb")
    (failed.path / "model.keras").write_text("half a new model")
    failed.discard()
    assert {k: v for k, v in contents(out).items() if k != MANIFEST} == {
        "metrics.json": "good",
        "model.keras": "good",
    }
    stale = tmp_path / ".out.partial-999999-abc"  # a kernel that died leaves its staging folder
    stale.mkdir()
    RunFolder.open(str(out), "nb").discard()
    assert not stale.exists()


def test_a_run_given_up_by_the_garbage_collector_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    run = RunFolder.open(str(out), "nb")
    staging = run.path
    del run
    import gc

    gc.collect()
    assert not staging.exists()
    RunFolder.open(str(out), "nb").discard()  # and the lock is free


def test_an_interrupted_swap_is_finished_or_undone(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "old"})
    os.rename(out, tmp_path / ".out.old")  # killed between the two renames of a commit
    RunFolder.open(str(out), "nb").discard()
    assert (out / "metrics.json").read_text() == "old", "the previous results come back"
    shutil.copytree(out, tmp_path / ".out.old")  # killed after both renames, before the clean-up
    RunFolder.open(str(out), "nb").discard()
    assert not (tmp_path / ".out.old").exists() and (out / "metrics.json").read_text() == "old"


OPEN_IN_ANOTHER_PROCESS = (
    "import sys; from rnn_helpers.runs.folders import RunFolder, OutputDirError\n"
    "try:\n    RunFolder.open(sys.argv[1], 'nb')\n"
    "except OutputDirError as e:\n    print(e); sys.exit(3)\n"
)


def open_elsewhere(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_ANOTHER_PROCESS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_process_is_refused_while_a_run_is_under_way(tmp_path):
    out = tmp_path / "out"
    run = RunFolder.open(str(out), "nb")
    busy = open_elsewhere(out)
    assert busy.returncode == 3, busy.stderr
    assert f"another run (process {os.getpid()}) is writing into {out}" in busy.stdout
    assert "Wait until it has finished, or give this run another output_dir" in busy.stdout
    finish(run, {"metrics.json": "mine"})
    free = open_elsewhere(out)
    assert free.returncode == 0, free.stdout + free.stderr


# --- files no run wrote ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [["budget.csv", "settings.json"], ["thesis.tex", "Documents"], ["model.keras"]],
    ids=["run-like-names", "other-names", "no-manifest"],
)
def test_a_folder_with_files_no_run_wrote_is_refused_and_left_alone(tmp_path, names):
    """Files whose names a run also writes (``.csv``, ``.json``, even ``model.keras``) are the
    user's unless a run's manifest lists them."""
    out = tmp_path / "mine"
    out.mkdir()
    for name in names:
        (out / name).mkdir() if "." not in name else (out / name).write_text(f"the user's {name}")
    before = leftover_files(tmp_path)
    with pytest.raises(OutputDirError, match=r"holds files that no run wrote \(" + ", ".join(sorted(names))):
        RunFolder.open(str(out), "nb")
    assert leftover_files(tmp_path) == before, "nothing moved, nothing added (no lock, no staging folder)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_files_added_beside_a_runs_results_are_refused_next_time(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "1"})
    (out / "notes.txt").write_text("the user's notes")
    with pytest.raises(OutputDirError, match=r"no run wrote \(notes.txt\)"):
        RunFolder.open(str(out), "nb")
    assert (out / "notes.txt").read_text() == "the user's notes" and (out / "metrics.json").read_text() == "1"


def test_files_that_appear_during_a_run_are_kept_and_so_are_the_results(tmp_path):
    out = tmp_path / "out"
    finish(RunFolder.open(str(out), "nb"), {"metrics.json": "1"})
    run = RunFolder.open(str(out), "nb")
    (run.path / "metrics.json").write_text("2")
    (out / "notes.txt").write_text("written while the run trained")
    with pytest.raises(OutputDirError, match="appeared in it during the run .*they are in .*out.results-"):
        run.commit()
    assert (
        contents(out)["notes.txt"] == "written while the run trained" and contents(out)["metrics.json"] == "1"
    )
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("out.results-")]
    assert len(kept) == 1 and (kept[0] / "metrics.json").read_text() == "2"


# --- links ----------------------------------------------------------------------------------------


def test_a_symbolic_link_stays_a_link_and_its_folder_gets_the_results(tmp_path):
    disk = tmp_path / "other-disk"
    disk.mkdir()
    link = tmp_path / "results"
    link.symlink_to(disk / "run")  # the folder need not exist yet
    finish(RunFolder.open(str(link), "nb"), {"metrics.json": "1"})
    assert link.is_symlink() and (disk / "run" / "metrics.json").read_text() == "1"
    chain = tmp_path / "shortcut"
    chain.symlink_to(link)  # a link to a link
    written = finish(RunFolder.open(str(chain), "nb"), {"metrics.json": "2"})
    assert written == [chain / "metrics.json"]
    assert chain.is_symlink() and link.is_symlink() and (disk / "run" / "metrics.json").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-disk", "results", "shortcut"]
    assert sorted(p.name for p in disk.iterdir()) == ["run"], "staged beside the real folder, nothing left"


def test_the_lock_follows_the_link_to_the_real_folder(tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(real)
    run = RunFolder.open(str(real), "nb")
    assert lock_path(real.resolve()) == lock_path(Path(os.path.realpath(link)))
    busy = open_elsewhere(link)
    assert busy.returncode == 3 and "another run" in busy.stdout, busy.stdout + busy.stderr
    run.discard()
    assert open_elsewhere(link).returncode == 0


# --- checked before training -----------------------------------------------------------------


@pytest.mark.parametrize("case", ["file", "proc", "mount"])
def test_unusable_output_folders_are_refused_before_anything_runs(tmp_path, case, monkeypatch):
    if case == "file":
        target = tmp_path / "results"
        target.write_text("a file")
        expected = "is a file, not a folder"
    elif case == "proc":
        target = Path("/proc/forbidden")
        expected = "output_dir = '/proc/forbidden': cannot write in /proc"
    else:
        target = tmp_path / "mounted"
        target.mkdir()
        monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == target)
        expected = "is a mount point, and a run replaces its folder as a whole. Give a folder inside it"
    with pytest.raises(OutputDirError, match=expected):
        RunFolder.open(str(target), "nb")
    assert not list(tmp_path.glob(".*")), "nothing left behind"


def _as_another_user(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` as the unprivileged user ``nobody`` (as root) or as this user."""
    command = [sys.executable, "-c", code, *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv to drop root's privileges")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    if "Permission denied" in done.stderr and "rnn_helpers" not in done.stdout + done.stderr:
        pytest.skip(f"the unprivileged user cannot run Python here: {done.stderr[-200:]}")
    return done


@pytest.mark.parametrize("case", ["read-only-folder", "read-only-parent", "read-only-subfolder"])
def test_a_read_only_place_is_found_before_training_and_nothing_moves(case):
    place = Path(tempfile.mkdtemp(prefix="rnn-folders-"))
    try:
        place.chmod(0o777)
        out = place / "out"
        (out / "logs").mkdir(parents=True)
        (out / "metrics.json").write_text("previous")
        (out / "logs" / "events").write_text("previous")
        (out / MANIFEST).write_text('{"files": ["logs", "metrics.json"]}')
        for path in (out, out / "logs", *out.rglob("*")):
            shutil.chown(path, "nobody") if os.geteuid() == 0 else None
        locked = {"read-only-folder": out, "read-only-parent": place, "read-only-subfolder": out / "logs"}[
            case
        ]
        locked.chmod(0o555)
        done = _as_another_user(OPEN_IN_ANOTHER_PROCESS, str(out))
        assert done.returncode == 3, done.stdout + done.stderr
        assert "not writable" in done.stdout or "cannot write in" in done.stdout, done.stdout
        assert (out / "metrics.json").read_text() == "previous" and not list(place.glob(".out*"))
    finally:
        for path in (place, *place.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(place)


# --- the sweep's run folders use the same primitive ----------------------------------------------


def test_a_sweep_run_folder_is_written_whole_and_replaced_whole(tmp_path):
    folder = tmp_path / "run=1"
    store_files(folder, [("metrics.json", b"1"), ("logs/events", b"e")], {"sweep-run.json": {"n": 1}})
    assert sorted(leftover_files(folder)) == [MANIFEST, "logs/events", "metrics.json", "sweep-run.json"]
    store_files(folder, [("metrics.json", b"2")], {"sweep-run.json": {"n": 2}})
    assert sorted(leftover_files(folder)) == [MANIFEST, "metrics.json", "sweep-run.json"]
    with pytest.raises(ValueError, match="outside its folder"):
        store_files(folder, [("../escape", b"x")], {})
    assert (folder / "metrics.json").read_text() == "2" and not (tmp_path / "escape").exists()
    (folder / "mine.txt").write_text("a user's")
    with pytest.raises(OutputDirError, match=r"no run wrote \(mine.txt\)"):
        store_files(folder, [("metrics.json", b"3")], {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run=1"]


def test_temporary_folders_of_a_killed_sweep_are_removed_by_the_next(tmp_path):
    from rnn_helpers.runs.execute import SCRATCH_PREFIX, remove_stale_scratch

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{SCRATCH_PREFIX}{dead.pid}-abc"  # a sweep killed with kill -9 left it
    (stale / "run").mkdir(parents=True)
    alive = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"  # this process's own: in use
    alive.mkdir()
    other = tmp_path / "rnn-sweep-notes"  # not a run's folder
    other.mkdir()
    assert remove_stale_scratch(str(tmp_path)) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


@pytest.mark.parametrize("where", ["notebooks", "outside"])
def test_pytest_pointed_at_the_notebooks_alone_is_kept_away_from_output(where, tmp_path):
    """``pytest --nbval notebooks/01_vanilla_rnn_mnist.ipynb`` loads the root conftest too, so
    nbval's kernels write into a temporary folder, never into output/."""
    root = Path(__file__).resolve().parents[1]
    code = (
        "import os, pytest\n"
        "pytest.main(['-q', '--co', '-p', 'no:cacheprovider', os.environ['NOTEBOOK']])\n"
        "print('OUTPUT=' + os.environ.get('RNN_HELPERS_OUTPUT', 'unset'))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "RNN_HELPERS_OUTPUT"}
    environment["NOTEBOOK"] = str(root / "notebooks" / "01_vanilla_rnn_mnist.ipynb")
    cwd = root / "notebooks" if where == "notebooks" else tmp_path
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=300)  # fmt: skip
    output = done.stdout.strip().splitlines()[-1]
    assert output.startswith("OUTPUT=") and "rnn-helpers-test-output-" in output, done.stdout + done.stderr
    assert not output.startswith(f"OUTPUT={root}")
