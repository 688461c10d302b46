"""Fine-tuning feature caches: what makes one stale, and where it lives."""

import shutil

from albert_tf.finetuning import feature_cache


def test_a_copy_has_the_digest_of_its_original(tmp_path):
    original = tmp_path / "train.tsv"
    original.write_text("sentence\tlabel\na fine film\t1\n")
    shutil.copy(original, tmp_path / "copy.tsv")

    assert feature_cache.files_digest([str(tmp_path / "copy.tsv")]) == feature_cache.files_digest([str(original)])


def test_an_edited_file_at_the_same_path_has_another_digest(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\na fine film\t1\n")
    before = feature_cache.files_digest([str(path)])
    path.write_text("sentence\tlabel\na fine film\t0\n")

    assert feature_cache.files_digest([str(path)]) != before


def test_moving_bytes_between_files_changes_the_digest(tmp_path):
    (tmp_path / "a").write_text("ab")
    (tmp_path / "b").write_text("c")
    (tmp_path / "c").write_text("a")
    (tmp_path / "d").write_text("bc")

    assert (feature_cache.files_digest([str(tmp_path / "a"), str(tmp_path / "b")])
            != feature_cache.files_digest([str(tmp_path / "c"), str(tmp_path / "d")]))


def test_a_flag_naming_the_tfrecord_file_gives_its_prefix():
    assert feature_cache.cache_path("cache/train.tf_record", "out/default") == "cache/train"


def test_without_a_flag_the_cache_goes_to_the_default_prefix():
    assert feature_cache.cache_path(None, "out/race_train") == "out/race_train"
