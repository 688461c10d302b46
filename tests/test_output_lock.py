import json
import os
import socket
import subprocess
import sys

import pytest

from albert_tf.output_lock import LOCK_FILE, OutputDirInUse, OutputLock


def finished_pid():
    """The pid of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_job_on_a_locked_folder_fails_naming_the_holder_and_the_lock_file(tmp_path):
    with OutputLock(str(tmp_path), "pretrain.py --output_dir=out"):

        with pytest.raises(OutputDirInUse, match=rf"in use by another job: pid {os.getpid()} on host "
                                                 rf"{socket.gethostname()} since .*\(pretrain\.py --output_dir=out\); "
                                                 rf".* delete {tmp_path / LOCK_FILE}$"):
            OutputLock(str(tmp_path), "second").acquire()


def test_the_lock_is_released_after_the_context_also_on_an_exception(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with OutputLock(str(tmp_path), "first"):
            raise KeyboardInterrupt

    with OutputLock(str(tmp_path), "second"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["command"] == "second"


def test_a_lock_left_by_a_dead_process_of_this_host_is_taken_over_with_a_warning(tmp_path, absl_log):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": finished_pid(),
                                                  "since": "2026-01-01T00:00:00+00:00", "command": "killed"}))

    with OutputLock(str(tmp_path), "second"):
        pass

    assert f"Taking over {tmp_path / LOCK_FILE}" in absl_log.text


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": finished_pid(),
                                                  "since": "2026-01-01T00:00:00+00:00", "command": "remote"}))

    with pytest.raises(OutputDirInUse, match="on host elsewhere"):
        OutputLock(str(tmp_path), "second").acquire()


def test_the_lock_works_through_tf_io_gfile_on_other_filesystems():
    # TF's in-memory filesystem stands in for gs://.
    with OutputLock("ram://locked_output", "first"):

        with pytest.raises(OutputDirInUse, match=rf"pid {os.getpid()}"):
            OutputLock("ram://locked_output", "second").acquire()
