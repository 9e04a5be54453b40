"""Download a dataset file from a list of mirrors, safely.

A download is written to a temporary file next to its destination and moved into place
(an atomic rename) only after its decompressed content matches the published digest. An
interrupted, truncated or corrupt download therefore never leaves a file that looks
valid: either the verified file is there, or nothing is. A download stopped by Ctrl-C or
SIGTERM removes its temporary file; one killed outright leaves it behind, and the next
download of the same file removes it.

Each mirror gets ``timeout`` seconds to answer or send more data, and ``deadline`` seconds
for the whole file, so a server that trickles a byte now and then fails too. An
organisation's own mirror goes first when named in ``$RNN_HELPERS_MIRRORS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from .idx import DataFileError, parse_idx, read_bytes

CHUNK_SIZE = 1 << 16
USER_AGENT = "rnn_helpers (MNIST tutorial data loader)"
MIRRORS_ENV = "RNN_HELPERS_MIRRORS"
DEFAULT_DEADLINE = 600.0


def mirrors_from_environment() -> list[str]:
    """Base URLs from ``$RNN_HELPERS_MIRRORS`` (separated by spaces or commas), in order."""
    return [url for url in os.environ.get(MIRRORS_ENV, "").replace(",", " ").split() if url]


class DownloadTooSlow(TimeoutError):
    """A mirror kept sending, but did not deliver the whole file within the deadline."""


class DownloadStopped(BaseException):
    """SIGTERM arrived during a download (raised so that temporary files are removed)."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`DownloadStopped` while downloading (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise DownloadStopped("stopped by SIGTERM during a download")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _remove_stale_parts(destination: Path) -> None:
    """Remove temporary files of earlier downloads of ``destination`` whose process is gone."""
    for part in destination.parent.glob(f".{destination.name}.*.part"):
        pid_text = part.name[len(destination.name) + 2 :].split(".", 1)[0]
        if pid_text.isdigit():
            try:
                os.kill(int(pid_text), 0)
                continue  # that process still runs: perhaps it is downloading right now
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        with contextlib.suppress(OSError):
            part.unlink()


class IncompleteDownload(OSError):
    """The server closed the connection before sending all the bytes it announced."""


class DownloadError(RuntimeError):
    """No mirror delivered a verified copy of a file.

    Attributes:
        attempts: ``(url, reason)`` for every mirror tried, in order.
    """

    def __init__(self, filename: str, attempts: list[tuple[str, str]]):
        self.filename = filename
        self.attempts = attempts
        tried = "\n".join(f"  - {url}: {reason}" for url, reason in attempts) or "  (no mirrors)"
        super().__init__(f"Could not download {filename}. Mirrors tried:\n{tried}")


def _fetch_to(url: str, destination: Path, timeout: float, progress: bool, deadline: float) -> None:
    """Stream ``url`` into the open-able path ``destination``, with a progress bar.

    Raises:
        DownloadTooSlow: the whole file did not arrive within ``deadline`` seconds.
    """
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        expected = int(total) if total and total.isdigit() else None
        received = 0
        with (
            open(destination, "wb") as out,
            tqdm(
                total=expected,
                unit="B",
                unit_scale=True,
                desc=url.rsplit("/", 1)[-1],
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            while chunk := response.read1(CHUNK_SIZE):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                if time.monotonic() - started > deadline:
                    of = f" of {expected}" if expected is not None else ""
                    raise DownloadTooSlow(
                        f"too slow: {received}{of} bytes after {deadline:g} s (the deadline for one file)"
                    )
    if expected is not None and received != expected:
        raise IncompleteDownload(f"connection closed after {received} of {expected} bytes")


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, DownloadTooSlow):
        return str(error)
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, DataFileError):
        return f"not a valid file: {error.problem}"
    if isinstance(error, IncompleteDownload):
        return f"incomplete download: {error}"
    if isinstance(error, http.client.IncompleteRead):
        return "incomplete download: connection closed before the whole file arrived"
    return f"{type(error).__name__}: {error}"


def download_verified(
    filename: str,
    destination: str | os.PathLike[str],
    md5: str,
    mirrors: Sequence[str],
    *,
    timeout: float = 30.0,
    progress: bool = True,
    deadline: float = DEFAULT_DEADLINE,
) -> Path:
    """Download ``<mirror><filename>`` from the first mirror that serves a verified copy.

    Args:
        filename: name of the file on the mirrors, e.g. ``"train-images-idx3-ubyte.gz"``.
        destination: final path of the file; its folder is created if needed.
        md5: expected MD5 of the *decompressed* content.
        mirrors: base URLs, tried in order (a missing trailing ``/`` is added).
        timeout: seconds to wait for a mirror to answer or send more data.
        progress: show a progress bar while downloading.
        deadline: seconds one mirror may take for the whole file.

    Returns:
        ``destination`` as a :class:`~pathlib.Path`, holding the verified file.

    Raises:
        DownloadError: when every mirror failed; lists each mirror and why it failed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(destination)
    with _sigterm_raises():
        return _download(filename, destination, md5, mirrors, timeout, progress, deadline)


def _download(filename, destination, md5, mirrors, timeout, progress, deadline) -> Path:
    attempts: list[tuple[str, str]] = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += filename
        handle, temporary_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.{os.getpid()}.", suffix=".part"
        )
        os.fchmod(handle, 0o644)  # readable like any other data file once in place
        os.close(handle)
        temporary = Path(temporary_name)
        try:
            _fetch_to(url, temporary, timeout, progress, deadline)
            content = read_bytes(temporary)
            parse_idx(content, url)  # an error page or another format is named as such
            digest = hashlib.md5(content).hexdigest()
            if digest != md5:
                attempts.append((url, f"digest mismatch (MD5 {digest}, expected {md5}); rejected"))
                continue
            os.replace(temporary, destination)
            return destination
        except (OSError, http.client.HTTPException, ValueError) as error:
            attempts.append((url, _describe(error)))
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    raise DownloadError(filename, attempts)
