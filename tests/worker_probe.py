"""A task for the data tool's worker processes that tells what they imported. A module of its own:
a worker imports the module of each function it runs, and the test modules import TensorFlow."""

import os
import sys


def tensorflow_imported(_):
    return os.getpid(), "tensorflow" in sys.modules
