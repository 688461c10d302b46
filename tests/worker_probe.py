"""Tasks for the data tool's worker processes: one tells what they imported, one kills its worker.
A module of its own: a worker imports the module of each function it runs, and the test modules
import TensorFlow."""

import os
import signal
import sys


def tensorflow_imported(_):
    return os.getpid(), "tensorflow" in sys.modules


def dies_at(task, fatal=3):
    """Kills its worker at task `fatal`, as the out-of-memory killer would."""
    if task == fatal:
        os.kill(os.getpid(), signal.SIGKILL)
    return task
