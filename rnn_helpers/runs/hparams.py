"""A sweep's runs for TensorBoard's HParams dashboard: each run's varied parameters and its
final validation and test accuracy, beside the curves its notebook writes (``logs/train``,
``logs/validation``).

For every finished run the sweep adds one event file to the run's ``logs/`` folder: the
run's parameters as an HParams session, and its final ``val_accuracy`` and
``test_accuracy`` as scalars. TensorBoard (``make tensorboard``) then lists the sweep's runs
in the HParams dashboard's table and parallel-coordinates view, with one column per varied
parameter. Written by the sweep's own process (sequential or Dask alike) with TensorBoard's
own protobuf writer; TensorFlow is not needed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The scalars each run's session gets, from its metrics.json.
METRICS = ("val_accuracy", "test_accuracy")


def _value(value: Any) -> bool | int | float | str:
    """An HParams value: TensorBoard takes booleans, numbers and strings."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def session_files(run: str, varied: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, bytes]:
    """The event file that makes one run an HParams session, as ``{"logs/<file name>": bytes}``.

    Args:
        run: the run's name (the session's trial id).
        varied: the parameters the sweep set for this run.
        results: the run's results; the entries named in :data:`METRICS` are written.
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.plugins.scalar import summary as scalar_summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    now = time.time()
    with tempfile.TemporaryDirectory(prefix="rnn-hparams-") as folder:
        writer = EventFileWriter(folder, filename_suffix=".hparams")
        session = summary_v2.hparams_pb({k: _value(v) for k, v in varied.items()}, trial_id=run,
                                        start_time_secs=int(now))  # fmt: skip
        # (with TensorFlow loaded, TensorBoard builds TensorFlow's own Summary: passed on as bytes)
        writer.add_event(
            Event(wall_time=now, step=0, summary=Summary.FromString(session.SerializeToString()))
        )
        for name in METRICS:
            if results.get(name) is not None:
                summary = scalar_summary.pb(name, float(results[name])).SerializeToString()
                writer.add_event(Event(wall_time=now, step=0, summary=Summary.FromString(summary)))
        writer.close()
        return {f"logs/{path.name}": path.read_bytes() for path in Path(folder).iterdir()}
