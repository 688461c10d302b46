"""The start-up every run/ script shares: flags first, TensorFlow later, and quiet logs.

A script imports this module first and the heavy modules through `lazy_import`, then runs with
`startup.run(main)`. Defining and parsing flags needs no TensorFlow, so `--help` and a mistyped flag
answer at once; TensorFlow is imported when `main` starts (or when a lazy module is first used;
only then for a script that runs with `needs_tensorflow=False`).

Quiet by default: TensorFlow's C++ logs below ERROR are off (`TF_CPP_MIN_LOG_LEVEL=2` unless
set), and the start-up lines that no level silences (absl's "All log messages before
absl::InitializeLog()", oneDNN's "custom operations are on", "Could not find cuda drivers",
cpu_feature_guard's "rebuild TensorFlow" and, on a machine without a GPU, "failed call to cuInit")
are taken out of stderr while TensorFlow is imported and finds its devices; every other line
written then is passed on. Python logs keep absl's default (INFO) but lose a few known-harmless
TensorFlow INFO messages (`HARMLESS_LOGS`). `--verbosity=1` (absl's flag) or the environment
variable `ALBERT_TF_VERBOSE=1` brings all of it back.
"""

import contextlib
import importlib
import logging
import os
import re
import sys
import tempfile
import types

from absl import app, flags

VERBOSE_ENV = "ALBERT_TF_VERBOSE"

# Lines TensorFlow's C++ start-up writes to stderr on every run; each names no problem of the job.
STARTUP_NOISE = re.compile("|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"\] oneDNN custom operations are on\. ",
    r"\] Could not find cuda drivers on your machine, GPU will not be used\.$",
    r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
    r"\] failed call to cuInit: ",
]))

# TensorFlow INFO messages (loggers "tensorflow" and "absl"; matched on their format strings) that say
# nothing about the job: one after every checkpoint save, and for every SavedModel an export writes its
# assets, its fingerprint, and the internal input names (captured resources) it renames.
HARMLESS_LOGS = ("Sharding callback duration: ", "Assets written to: ", "Writing fingerprint to ",
                 "Function `%s` contains input name(s) %s with unsupported characters which will be renamed")


def verbose():
    """True with ALBERT_TF_VERBOSE set (not 0) or, once flags are parsed, --verbosity >= 1."""
    if os.environ.get(VERBOSE_ENV, "0") not in ("", "0"):
        return True
    verbosity = flags.FLAGS["verbosity"] if "verbosity" in flags.FLAGS else None
    return bool(verbosity is not None and flags.FLAGS.is_parsed() and verbosity.value >= 1)


class _HarmlessLogFilter(logging.Filter):
    def filter(self, record):
        return not (record.levelno <= logging.INFO and isinstance(record.msg, str)
                    and record.msg.startswith(HARMLESS_LOGS))


_HARMLESS_LOG_FILTER = _HarmlessLogFilter()


@contextlib.contextmanager
def _filtered_stderr():
    """Whatever is written to file descriptor 2 inside, less the `STARTUP_NOISE` lines, is
    written to stderr on exit (C++ writes straight to the descriptor, past `sys.stderr`)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not STARTUP_NOISE.search(line.rstrip("\n")))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def import_tensorflow():
    """Imports TensorFlow (and lets it find its devices) as configured: quiet unless `verbose()`."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if verbose():
        os.environ[VERBOSE_ENV] = "1"  # for worker processes
        import tensorflow as tf
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _filtered_stderr():
        import tensorflow as tf
        tf.config.list_physical_devices()  # loads the GPU platform now: its cuInit error without a GPU
    for logger in ("tensorflow", "absl"):  # TensorFlow logs through both
        logging.getLogger(logger).addFilter(_HARMLESS_LOG_FILTER)
    return tf


class _LazyModule(types.ModuleType):
    """A module imported on first attribute access, after `import_tensorflow`."""

    def __init__(self, name):
        super().__init__(name)

    def _load(self):
        import_tensorflow()
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return module

    def __getattr__(self, attribute):
        return getattr(self._load(), attribute)


def lazy_import(name):
    """`name` (e.g. "tensorflow", "albert_tf.finetuning.glue"), imported when first used."""
    return sys.modules.get(name) or _LazyModule(name)


def lazy_function(module, name):
    """`module.name`, a function or class to call, imported at its first call."""

    def call(*args, **kwargs):
        return getattr(lazy_import(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def run(main, flags_parser=app.parse_flags_with_usage, needs_tensorflow=True):
    """`absl.app.run(main, flags_parser)`, with TensorFlow imported (quietly) after the flags are
    parsed. A script that may not need it (the data tool on local files) passes
    `needs_tensorflow=False`: its lazy modules import it, as quietly, if they are used."""

    def quiet_main(argv):
        if needs_tensorflow:
            import_tensorflow()
        return main(argv)

    app.run(quiet_main, flags_parser=flags_parser)
