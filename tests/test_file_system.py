"""`file_system` answers as `tf.io.gfile` does, on a local path and on a TensorFlow file system
(ram://, standing in for gs://)."""

import uuid

import pytest
import tensorflow as tf

from albert_tf import file_system


@pytest.fixture(params=["local", "ram"])
def folder(request, tmp_path):
    if request.param == "local":
        return str(tmp_path)
    path = f"ram://file_system_test_{uuid.uuid4().hex}"
    tf.io.gfile.makedirs(path)
    return path


def test_a_written_file_reads_back_and_globs(folder):
    with file_system.open(f"{folder}/a.txt", "w") as f:
        f.write("one\r\ntwo\n")

    with file_system.open(f"{folder}/a.txt") as f:
        text = f.read()
    assert (text, file_system.glob(f"{folder}/*.txt")) == ("one\r\ntwo\n", [f"{folder}/a.txt"])


def test_rename_without_overwrite_onto_a_file_is_a_file_exists_error_and_keeps_both(folder):
    for name in ("a", "b"):
        with file_system.open(f"{folder}/{name}", "w") as f:
            f.write(name)

    with pytest.raises(FileExistsError):
        file_system.rename(f"{folder}/a", f"{folder}/b")
    assert file_system.glob(f"{folder}/*") == [f"{folder}/a", f"{folder}/b"]


def test_rename_with_overwrite_replaces_the_target(folder):
    for name in ("a", "b"):
        with file_system.open(f"{folder}/{name}", "w") as f:
            f.write(name)

    file_system.rename(f"{folder}/a", f"{folder}/b", overwrite=True)

    with file_system.open(f"{folder}/b") as f:
        assert (file_system.exists(f"{folder}/a"), f.read()) == (False, "a")


@pytest.mark.parametrize("operation", [file_system.open, file_system.remove])
def test_a_missing_file_is_a_file_not_found_error(folder, operation):
    with pytest.raises(FileNotFoundError):
        operation(f"{folder}/missing")


def test_makedirs_and_rmtree_make_and_remove_a_tree(folder):
    file_system.makedirs(f"{folder}/x/y")
    with file_system.open(f"{folder}/x/y/z", "wb") as f:
        f.write(b"z")
    made = file_system.isdir(f"{folder}/x/y")

    file_system.rmtree(f"{folder}/x")

    assert (made, file_system.exists(f"{folder}/x")) == (True, False)
