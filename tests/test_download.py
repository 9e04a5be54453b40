"""The download path, against a real HTTP server on 127.0.0.1 started by each test."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import leftover_files, make_synthetic
from rnn_helpers import DataNotFoundError, load_data
from rnn_helpers.data.download import DownloadError, download_verified


class Server:
    """Serves ``routes[path] = (status, body)``; a body of ``("truncate", bytes)`` promises
    more bytes than it sends, ``("slow", bytes)`` waits before answering."""

    def __init__(self):
        self.routes: dict[str, tuple[int, object]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (name required by http.server)
                server.requests.append(self.path)
                status, body = server.routes.get(self.path, (404, b"not found"))
                if isinstance(body, tuple) and body[0] == "slow":
                    time.sleep(2.0)
                    body = body[1]
                if isinstance(body, tuple) and body[0] == "trickle":  # one byte every 50 ms
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body[1])))
                    self.end_headers()
                    try:
                        for i in range(len(body[1])):
                            self.wfile.write(body[1][i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:  # the client gave up
                        pass
                    return
                promised = len(body) if isinstance(body, bytes) else len(body[1]) + 1000
                self.send_response(status)
                self.send_header("Content-Length", str(promised))
                self.end_headers()
                self.wfile.write(body if isinstance(body, bytes) else body[1])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def remote(tmp_path, cache_dir):
    """A synthetic dataset whose files exist only "on the mirrors", not on disk."""
    data = make_synthetic(tmp_path / "origin")
    payload = {role: gzip.compress(content) for role, content in data.contents.items()}
    return data, payload


def serve(server, prefix, data, payload, roles=("test_images", "test_labels")):
    for role in roles:
        server.routes[f"{prefix}{data.spec.files[role]}.gz"] = (200, payload[role])


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mirror/"


def test_download_success(server, remote, cache_dir):
    data, payload = remote
    serve(server, "/m1/", data, payload)
    x, y = load_data("test", data.spec, mirrors=[server.base + "/m1/"], progress=False)
    assert x.shape == (20, 784)
    assert (cache_dir / "synthetic" / "t10k-images-idx3-ubyte.gz").stat().st_mode & 0o777 == 0o644
    assert leftover_files(cache_dir / "synthetic") == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    # A second load reads the cache and asks the server for nothing.
    before = len(server.requests)
    load_data("test", data.spec, mirrors=[server.base + "/m1/"], progress=False)
    assert len(server.requests) == before


def test_first_mirror_404_second_succeeds(server, remote, cache_dir):
    data, payload = remote
    serve(server, "/good/", data, payload)
    x, _ = load_data(
        "test", data.spec, mirrors=[server.base + "/bad", server.base + "/good/"], progress=False
    )
    assert len(x) == 20
    assert server.requests[0] == "/bad/t10k-images-idx3-ubyte.gz"
    assert "/good/t10k-images-idx3-ubyte.gz" in server.requests


@pytest.mark.parametrize(
    "damage",
    ["flip-a-byte", "not-gzip", "truncated-transfer"],
)
def test_corrupt_payload_rejected_and_nothing_left(server, remote, cache_dir, damage):
    data, payload = remote
    good = payload["test_images"]
    if damage == "flip-a-byte":
        body = gzip.compress(data.contents["test_images"][:-1] + b"\x07")
    elif damage == "not-gzip":
        body = b"<html>Access denied</html>"
    else:
        body = ("truncate", good[: len(good) // 2])
    server.routes["/m/t10k-images-idx3-ubyte.gz"] = (200, body)
    with pytest.raises(DataNotFoundError) as info:
        load_data("test", data.spec, mirrors=[server.base + "/m/"], progress=False, timeout=5)
    message = str(info.value)
    expected = {
        "flip-a-byte": "digest mismatch",
        "not-gzip": "wrong magic number",
        "truncated-transfer": "incomplete download: connection closed after",
    }[damage]
    assert expected in message
    assert leftover_files(cache_dir) == []


def test_nothing_reachable_gives_one_clear_error(remote, cache_dir, tmp_path):
    data, _ = remote
    mirrors = [closed_port_url(), closed_port_url()]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError) as info:
        load_data("test", data.spec, tmp_path / "empty", mirrors=mirrors, progress=False, timeout=2)
    message = str(info.value)
    for url in mirrors:
        assert url + "t10k-images-idx3-ubyte.gz" in message
    assert "unreachable" in message
    assert "Looked in:" in message and "data_dir argument" in message and "cache" in message
    assert "To provide the files by hand" in message
    assert leftover_files(cache_dir) == []


def test_timeout(server, remote, cache_dir):
    data, payload = remote
    server.routes["/slow/t10k-images-idx3-ubyte.gz"] = (200, ("slow", payload["test_images"]))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download_verified(
            "t10k-images-idx3-ubyte.gz",
            cache_dir / "x.gz",
            data.spec.md5["test_images"],
            [server.base + "/slow/"],
            timeout=0.5,
            progress=False,
        )
    assert time.monotonic() - started < 2.0
    assert leftover_files(cache_dir) == []


def test_download_shows_progress(server, remote, cache_dir, capsys):
    data, payload = remote
    serve(server, "/m/", data, payload)
    download_verified(
        "t10k-labels-idx1-ubyte.gz",
        cache_dir / "labels.gz",
        data.spec.md5["test_labels"],
        [server.base + "/m/"],
        progress=True,
    )
    assert "t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err


def test_a_trickling_server_fails_at_the_deadline(server, remote, cache_dir):
    """A byte every 50 ms never trips the per-read timeout; the deadline for the file does."""
    data, payload = remote
    server.routes["/drip/t10k-images-idx3-ubyte.gz"] = (200, ("trickle", payload["test_images"]))
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"too slow: \d+ of \d+ bytes after 0.5 s"):
        download_verified(
            "t10k-images-idx3-ubyte.gz",
            cache_dir / "x.gz",
            data.spec.md5["test_images"],
            [server.base + "/drip/"],
            timeout=0.4,
            progress=False,
            deadline=0.5,
        )
    assert time.monotonic() - started < 3.0
    assert leftover_files(cache_dir) == []


def test_sigterm_during_a_download_leaves_no_partial_file(server, remote, tmp_path):
    data, payload = remote
    server.routes["/drip/t10k-images-idx3-ubyte.gz"] = (200, ("trickle", payload["test_images"]))
    target = tmp_path / "cache" / "t10k-images-idx3-ubyte.gz"
    script = textwrap.dedent(
        f"""
        from rnn_helpers.data.download import download_verified
        download_verified("t10k-images-idx3-ubyte.gz", {str(target)!r}, "0" * 32,
                          [{server.base + "/drip/"!r}], progress=False)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(target.parent.glob("*.part")):
            assert time.monotonic() < deadline, "the download never started"
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.3)  # some bytes have arrived
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert b"stopped by SIGTERM during a download" in process.stderr.read()
    assert leftover_files(target.parent) == []


def test_partial_files_of_dead_processes_are_removed(server, remote, cache_dir):
    data, payload = remote
    serve(server, "/m/", data, payload)
    folder = cache_dir / "dl"
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = folder / f".labels.gz.{dead.stdout.strip()}.abc123.part"
    alive = folder / f".labels.gz.{os.getpid()}.def456.part"  # perhaps a download under way
    stale.write_bytes(b"half")
    alive.write_bytes(b"half")
    mirror = [server.base + "/m/"]
    download_verified("t10k-labels-idx1-ubyte.gz", folder / "labels.gz", data.spec.md5["test_labels"], mirror)
    assert not stale.exists() and alive.exists() and (folder / "labels.gz").is_file()


def test_an_organisations_mirror_goes_first(server, remote, cache_dir, monkeypatch):
    from dataclasses import replace

    data, payload = remote
    serve(server, "/ours/", data, payload)
    spec = replace(data.spec, mirrors=(closed_port_url(),))
    monkeypatch.setenv("RNN_HELPERS_MIRRORS", f"{server.base}/ours/, {closed_port_url()}")
    x, y = load_data("test", spec, progress=False)
    assert len(x) == 20
    assert server.requests == ["/ours/t10k-images-idx3-ubyte.gz", "/ours/t10k-labels-idx1-ubyte.gz"]
