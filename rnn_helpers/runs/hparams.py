"""A sweep's runs for TensorBoard's HParams dashboard: each run's varied parameters and its
final validation and test accuracy, beside the curves its notebook writes (``logs/train``,
``logs/validation``).

For every finished run the sweep adds one event file to the run's ``logs/hparams/``
folder: the run's parameters as an HParams session, and its final ``val_accuracy`` and
``test_accuracy`` as scalars. TensorBoard (``make tensorboard``) then lists the sweep's runs
in the HParams dashboard's table and parallel-coordinates view, one column per varied
parameter and one per accuracy. The session has a folder of its own because TensorBoard
takes every scalar in or below a session's folder as one of its metrics: in ``logs/``
itself, the curves' last values (``train.batch_loss``, ``validation.epoch_loss``, ...)
would come first and push the two accuracies off the right edge.

Written by the sweep's own process (sequential or Dask alike) with TensorBoard's
protobufs and record format; TensorFlow is not imported (TensorBoard's own file writer
would import it where it is installed, only to open the file).
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

#: The scalars each run's session gets, from its metrics.json.
METRICS = ("val_accuracy", "test_accuracy")
#: The session's file: "tfevents" in the name is what TensorBoard looks for. One name for
#: every run (the folder is written whole, once per run), so that a sweep run again, or on
#: a cluster, gives the same files.
FILE_NAME = "events.out.tfevents.hparams"


def _value(value: Any) -> bool | int | float | str:
    """An HParams value: TensorBoard takes booleans, numbers and strings."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def session_files(run: str, varied: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, bytes]:
    """The event file that makes one run an HParams session, as
    ``{"logs/hparams/events.out.tfevents.hparams": bytes}``.

    Args:
        run: the run's name (the session's trial id).
        varied: the parameters the sweep set for this run.
        results: the run's results; the entries named in :data:`METRICS` that are not
            None are written, each as a scalar of that very name at step 0.
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    from tensorboard.summary.writer.record_writer import RecordWriter

    now = time.time()
    values = {key: _value(value) for key, value in varied.items()}
    summaries = [hparams_pb(values, trial_id=run, start_time_secs=int(now))]
    # the tag is the metric's name itself: the HParams dashboard's column heading
    summaries += [scalar_pb(name, float(results[name])) for name in METRICS if results.get(name) is not None]
    events = [Event(wall_time=now, file_version="brain.Event:2")]
    events += [Event(wall_time=now, step=0, summary=summary) for summary in summaries]
    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for event in events:
        writer.write(event.SerializeToString())
    return {f"logs/hparams/{FILE_NAME}": buffer.getvalue()}
