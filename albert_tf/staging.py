"""Writing a folder or file aside and moving it into place only once it is complete.

A reader (TF Serving, `transformers`, a later job) never sees a half-written folder or file under
its final name, and a killed writer leaves only a hidden sibling behind, named with its host and
pid, so that a later writer can tell a dead writer's leftovers from a live writer's work.
"""

import contextlib
import os
import re
import socket
import uuid

from albert_tf import file_system

_STAGING_SUFFIX = re.compile(r"\.incomplete-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{32}(\.replaced)?$")


def staging_path(path):
    """A hidden sibling of `path` to write into (TF Serving ignores its non-numeric name; a glob of
    shards such as `pretraining.tfrecord-*` does not match it)."""
    parent, name = os.path.split(path.rstrip("/"))
    return os.path.join(parent, f".{name}.incomplete-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}")


def publish(staging, path, replace=True):
    """Moves a complete `staging` folder or file to `path`; an old `path` is given up only now.

    Without `replace`, a `path` that appeared while `staging` was written (another writer's) is
    kept: `staging` is removed and `FileExistsError` raised."""
    if not replace:
        try:
            file_system.rename(staging, path, overwrite=False)
        except OSError:  # FileExistsError, or a folder onto a non-empty one
            discard(staging)
            raise FileExistsError(f"{path} appeared while this was being written (another writer?); it is kept "
                                  "and this output is dropped") from None
        return
    if file_system.exists(path):
        retired = staging + ".replaced"
        file_system.rename(path, retired)
        file_system.rename(staging, path)
        discard(retired)
    else:
        file_system.rename(staging, path)


def discard(staging):
    if file_system.isdir(staging):
        file_system.rmtree(staging)
    elif file_system.exists(staging):
        file_system.remove(staging)


def leftovers(pattern):
    """The staging siblings that killed writers of the paths matching the glob `pattern` left behind:
    those of writers on this host that are no longer running. A live writer's, or one of another
    host's (whether it runs cannot be told from here), are not leftovers."""
    parent, name = os.path.split(pattern.rstrip("/"))
    found = []
    for path in file_system.glob(os.path.join(parent, f".{name}.incomplete-*")):
        writer = _STAGING_SUFFIX.search(path)
        if writer and writer["host"] == socket.gethostname() and not process_is_running(int(writer["pid"])):
            found.append(path)
    return found


def process_is_running(pid):
    """Whether a process `pid` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_checkpoint_leftovers(directory):
    """Removes the `<prefix>_temp/` folders of checkpoint saves that were killed in `directory`.

    TensorFlow writes a checkpoint's shards there and merges them into `<prefix>.*` at the end of
    the save; a folder left behind is orphaned and safe to remove (functional_saver.py says so).
    Call it only while holding the directory's `OutputLock`, so no save is under way."""
    removed = file_system.glob(os.path.join(directory, "*_temp"))
    for path in removed:
        file_system.rmtree(path)
    return removed


def write_text(path, text):
    """Replaces the file `path` with `text` at once: a reader, or a job killed meanwhile, sees the
    old text or the new, never a part."""
    staging = staging_path(path)
    try:
        with file_system.open(staging, "w") as f:
            f.write(text)
        file_system.rename(staging, path, overwrite=True)
    except BaseException:
        discard(staging)
        raise


@contextlib.contextmanager
def written_aside(path):
    """Yields a staging folder to write into; publishes it as `path` if the block completes, else removes it."""
    staging = staging_path(path)
    try:
        yield staging
    except BaseException:
        discard(staging)
        raise
    publish(staging, path)
