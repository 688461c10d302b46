"""`OutputLock`: one job at a time in an output folder.

Two jobs writing one folder would overwrite each other's checkpoints and flags, and both end
with rc=0. So a job holds a lock file, `LOCK_FILE`, in its output folder while it runs, recording
its host, pid, start time and command; a second job fails at once, naming the holder.

What is guaranteed where:
- Local and other POSIX paths: the lock file appears complete and atomically (a hard link
  of a written temporary file, which fails if the lock exists, as O_CREAT | O_EXCL does). Of
  two jobs starting together, exactly one holds the lock.
- Any other `tf.io.gfile` path (gs://, s3://, ...): object stores have no exclusive create, so
  the lock is written when absent, then read back and compared. A job that started earlier is
  always caught; two jobs starting within the same moment may both go on. Best effort.

A lock whose holder ran on this host and is gone (killed, say, with SIGKILL) is taken over with
a warning. Whether a holder on another host is alive cannot be told: the error names the lock
file to delete when that job is gone.
"""

import datetime
import json
import os
import socket
import uuid

import tensorflow as tf
from absl import logging

from albert_tf.staging import process_is_running

LOCK_FILE = "albert_tf.lock"


class OutputDirInUse(RuntimeError):
    """Another job holds the output folder's lock."""


class OutputLock:
    """The lock of `output_dir`, held from `acquire` (or entering the context) to `release`.

    `command` is recorded for whoever finds the lock held (e.g. " ".join(sys.argv)).
    """

    def __init__(self, output_dir, command):
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, LOCK_FILE)
        self.record = {"host": socket.gethostname(), "pid": os.getpid(),
                       "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                       "command": command, "token": uuid.uuid4().hex}

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()

    def acquire(self):
        """Takes the lock, or raises `OutputDirInUse` naming its holder and the file."""
        tf.io.gfile.makedirs(self.output_dir)
        # More than one try only when the lock vanishes or is stale between our looks at it.
        for _ in range(3):
            if self._create():
                return
            holder = self._read()
            if holder is None:
                continue
            if not self._is_stale(holder):
                raise OutputDirInUse(self._in_use_message(holder))
            logging.warning("Taking over %s: its holder, pid %s on this host since %s, is no longer running.",
                            self.path, holder.get("pid"), holder.get("since"))
            if self._read() == holder:
                tf.io.gfile.remove(self.path)
        raise OutputDirInUse(self._in_use_message(self._read() or {}))

    def release(self):
        """Removes the lock file if it is still ours."""
        holder = self._read()
        if holder is not None and holder.get("token") == self.record["token"]:
            tf.io.gfile.remove(self.path)

    def _create(self):
        text = json.dumps(self.record)
        if "://" not in self.path:
            temporary = f"{self.path}.{self.record['token']}"
            with open(temporary, "w") as f:
                f.write(text)
            try:
                os.link(temporary, self.path)
                return True
            except FileExistsError:
                return False
            finally:
                os.remove(temporary)
        if tf.io.gfile.exists(self.path):
            return False
        with tf.io.gfile.GFile(self.path, "w") as f:
            f.write(text)
        return (self._read() or {}).get("token") == self.record["token"]

    def _read(self):
        """The holder's record; None when there is no lock; {} when it cannot be parsed."""
        try:
            with tf.io.gfile.GFile(self.path) as f:
                text = f.read()
        except tf.errors.NotFoundError:
            return None
        try:
            holder = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def _is_stale(self, holder):
        return (holder.get("host") == self.record["host"] and isinstance(holder.get("pid"), int)
                and not process_is_running(holder["pid"]))

    def _in_use_message(self, holder):
        command = str(holder.get("command", "?"))
        command = command if len(command) <= 200 else command[:200] + "..."
        return (f"{self.output_dir} is in use by another job: pid {holder.get('pid', '?')} on host "
                f"{holder.get('host', '?')} since {holder.get('since', '?')} ({command}); if that job is no longer "
                f"running, delete {self.path}")
