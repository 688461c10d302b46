import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import pretraining_dataset
from tests.conftest import write_pretraining_records

SEQ, PREDICTIONS = 16, 3


def shards(tmp_path, count=4):
    return [write_pretraining_records(tmp_path / f"shard-{i}.tfrecord", 8, SEQ, PREDICTIONS, 50, seed=i)
            for i in range(count)]


def test_batches_carry_the_model_input_names_as_int32_with_static_shapes(tmp_path):
    dataset = pretraining_dataset(shards(tmp_path), 4, SEQ, PREDICTIONS, is_training=True, seed=1)

    spec = {name: (s.shape.as_list(), s.dtype.name) for name, s in dataset.element_spec.items()}

    assert spec == {
        "input_word_ids": ([4, SEQ], "int32"), "input_mask": ([4, SEQ], "int32"), "input_type_ids": ([4, SEQ], "int32"),
        "masked_lm_positions": ([4, PREDICTIONS], "int32"), "masked_lm_ids": ([4, PREDICTIONS], "int32"),
        "masked_lm_weights": ([4, PREDICTIONS], "float32"), "next_sentence_labels": ([4], "int32")}


def test_records_arrive_unchanged(tmp_path):
    path = write_pretraining_records(tmp_path / "one.tfrecord", 2, SEQ, PREDICTIONS, 50, seed=5)
    record = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(path))).numpy()).features.feature

    batch = next(iter(pretraining_dataset([path], 1, SEQ, PREDICTIONS, is_training=False)))

    np.testing.assert_array_equal(batch["input_word_ids"][0], record["input_ids"].int64_list.value)
    np.testing.assert_array_equal(batch["masked_lm_weights"][0], record["masked_lm_weights"].float_list.value)


def test_input_pipelines_read_disjoint_files(tmp_path):
    files = shards(tmp_path)
    contexts = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i) for i in range(2)]

    seen = [{tuple(row) for batch in pretraining_dataset(files, 8, SEQ, PREDICTIONS, False, context).take(2)
             for row in batch["input_word_ids"].numpy()} for context in contexts]

    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_evaluation_pipelines_split_the_records_of_a_single_file(tmp_path):
    files = shards(tmp_path, count=1)
    contexts = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i) for i in range(2)]

    seen = [{tuple(row) for row in next(iter(pretraining_dataset(files, 4, SEQ, PREDICTIONS, False, context)))[
        "input_word_ids"].numpy()} for context in contexts]

    assert len(seen[0] | seen[1]) == 8


def test_training_pipelines_need_a_file_each(tmp_path):
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=0)

    with pytest.raises(ValueError, match="1 input files cannot be split over 2 input pipelines"):
        pretraining_dataset(shards(tmp_path, count=1), 4, SEQ, PREDICTIONS, True, context)


def test_same_seed_gives_the_same_order(tmp_path):
    files = shards(tmp_path)

    def first_batches(seed):
        return [b["input_word_ids"].numpy() for b in pretraining_dataset(files, 4, SEQ, PREDICTIONS, True, seed=seed).take(5)]

    np.testing.assert_array_equal(first_batches(3), first_batches(3))


def test_another_seed_gives_another_order(tmp_path):
    files = shards(tmp_path)

    def first_batch(seed):
        return next(iter(pretraining_dataset(files, 4, SEQ, PREDICTIONS, True, seed=seed)))["input_word_ids"].numpy()

    assert not np.array_equal(first_batch(3), first_batch(4))
