"""GLUE tasks in the standard TSV layout: which file, which columns, which labels.

Columns are found by their header names (CoLA's headerless train/dev files by position), so a
file with a missing or extra column fails with its path and line instead of shifting fields.
"""

import csv
import dataclasses
import os

import numpy as np
import tensorflow as tf

from albert_tf.finetuning.features import encode_text
from albert_tf.finetuning.metrics import classification_metrics, regression_metrics

MNLI_LABELS = ("contradiction", "entailment", "neutral")
ENTAILMENT_LABELS = ("entailment", "not_entailment")
BINARY_LABELS = ("0", "1")


@dataclasses.dataclass(frozen=True)
class Split:
    """A TSV file and its columns: header names, or positions for a file without a header."""

    file: str
    text_a: object
    text_b: object = None
    label: object = None
    index: object = None
    has_header: bool = True
    num_columns: int = None


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """labels: the label set in output order; () for a regression task (STS-B).

    metric: the metric that picks the best checkpoint: the original's (accuracy, Matthews
    correlation for CoLA, Pearson for STS-B), except F1 for MRPC and QQP, which GLUE reports
    for them (the original selected those by accuracy)."""

    name: str
    labels: tuple
    train: Split
    dev: Split
    test: Split
    metric: str = "eval_accuracy"
    submission_name: str = ""

    @property
    def is_regression(self):
        return not self.labels

    @property
    def num_labels(self):
        return len(self.labels) or 1


def _mnli(dev_file, test_file, name, submission):
    return GlueTask(name, MNLI_LABELS,
                    train=Split("train.tsv", "sentence1", "sentence2", "gold_label", "pairID"),
                    dev=Split(dev_file, "sentence1", "sentence2", "gold_label", "pairID"),
                    test=Split(test_file, "sentence1", "sentence2", index="index"), submission_name=submission)


def _index_pair_task(name, labels, a, b, label, submission, metric="eval_accuracy", index="index"):
    return GlueTask(name, labels, train=Split("train.tsv", a, b, label, index),
                    dev=Split("dev.tsv", a, b, label, index), test=Split("test.tsv", a, b, index="index"),
                    metric=metric, submission_name=submission)


GLUE_TASKS = {task.name: task for task in (
    GlueTask("cola", BINARY_LABELS,
             train=Split("train.tsv", 3, label=1, has_header=False, num_columns=4),
             dev=Split("dev.tsv", 3, label=1, has_header=False, num_columns=4),
             test=Split("test.tsv", "sentence", index="index"), metric="matthew_corr", submission_name="CoLA"),
    _mnli("dev_matched.tsv", "test_matched.tsv", "mnli", "MNLI-m"),
    _mnli("dev_mismatched.tsv", "test_mismatched.tsv", "mismnli", "MNLI-mm"),
    # The diagnostic set is labelled with MNLI's labels and predicted by an MNLI model.
    GlueTask("ax", MNLI_LABELS, train=Split("train.tsv", "sentence1", "sentence2", "gold_label", "pairID"),
             dev=Split("dev_matched.tsv", "sentence1", "sentence2", "gold_label", "pairID"),
             test=Split("AX.tsv", "sentence1", "sentence2", index="index"), submission_name="AX"),
    _index_pair_task("mrpc", BINARY_LABELS, "#1 String", "#2 String", "Quality", "MRPC", metric="f1", index=None),
    _index_pair_task("qnli", ENTAILMENT_LABELS, "question", "sentence", "label", "QNLI"),
    GlueTask("qqp", BINARY_LABELS, train=Split("train.tsv", "question1", "question2", "is_duplicate", "id"),
             dev=Split("dev.tsv", "question1", "question2", "is_duplicate", "id"),
             test=Split("test.tsv", "question1", "question2", index="id"), metric="f1", submission_name="QQP"),
    _index_pair_task("rte", ENTAILMENT_LABELS, "sentence1", "sentence2", "label", "RTE"),
    GlueTask("sst-2", BINARY_LABELS, train=Split("train.tsv", "sentence", label="label"),
             dev=Split("dev.tsv", "sentence", label="label"), test=Split("test.tsv", "sentence", index="index"),
             submission_name="SST-2"),
    _index_pair_task("sts-b", (), "sentence1", "sentence2", "score", "STS-B", metric="pearson"),
    _index_pair_task("wnli", BINARY_LABELS, "sentence1", "sentence2", "label", "WNLI"),
)}

@dataclasses.dataclass(frozen=True)
class GlueExample:
    guid: str
    text_a: str
    text_b: str
    label: object  # label string, float for STS-B, None for unlabeled test examples
    source: str  # "path:line", for error messages


class GlueFormatError(ValueError):
    """A GLUE file that does not have the task's layout; the message names the file and line."""


def get_task(task_name):
    task = GLUE_TASKS.get(task_name.lower())
    if task is None:
        raise ValueError(f"--task_name={task_name!r} is not a GLUE task; expected one of {sorted(GLUE_TASKS)}")
    return task


def read_examples(data_dir, task, split_name):
    """Examples of `split_name` ("train", "dev" or "test") from `data_dir`, in file order."""
    split = getattr(task, split_name)
    path = os.path.join(data_dir, split.file)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{task.name} {split_name} file not found: {path} (--data_dir should hold the "
                                f"task's GLUE TSV files)")
    with tf.io.gfile.GFile(path) as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = None
    first_line = 1
    if split.has_header:
        if not rows:
            raise GlueFormatError(f"{path}: empty file; expected a header line")
        header, rows, first_line = rows[0], rows[1:], 2
        needed = [c for c in (split.text_a, split.text_b, split.label, split.index) if c is not None]
        missing = [c for c in needed if c not in header]
        if missing:
            raise GlueFormatError(f"{path}:1: header has no column(s) {missing}; it has {header}")
    columns = len(header) if header else split.num_columns

    def field(row, column):
        return row[header.index(column) if header else column]

    examples = []
    for line, row in enumerate(rows, start=first_line):
        if not row:
            continue
        if len(row) != columns:
            raise GlueFormatError(f"{path}:{line}: expected {columns} tab-separated columns, got {len(row)}")
        label = None
        if split.label is not None:
            label = _parse_label(task, field(row, split.label), f"{path}:{line}")
        guid = field(row, split.index) if split.index is not None else str(line - first_line)
        text_b = field(row, split.text_b) if split.text_b is not None else None
        examples.append(GlueExample(f"{split_name}-{guid}", field(row, split.text_a), text_b, label, f"{path}:{line}"))
    return examples


def _parse_label(task, value, where):
    if task.is_regression:
        try:
            return float(value)
        except ValueError:
            raise GlueFormatError(f"{where}: {task.name} label {value!r} is not a number") from None
    if value not in task.labels:
        raise GlueFormatError(f"{where}: {task.name} label {value!r} is not one of {list(task.labels)}")
    return value


def build_features(examples, task, tokenizer, max_seq_length):
    """Model inputs and labels of each example, and counts (examples, truncated).

    Labels are class indices into `task.labels` (`label_ids`, int), or the score for
    regression (`label`, float); unlabeled (test) examples get 0.
    """
    features, truncated = [], 0
    for example in examples:
        encoded = encode_text(tokenizer, example.text_a, example.text_b, max_seq_length)
        truncated += encoded.truncated
        feature = {"input_word_ids": encoded.input_word_ids, "input_mask": encoded.input_mask,
                   "input_type_ids": encoded.input_type_ids}
        if task.is_regression:
            feature["label"] = np.float32(example.label or 0.0)
        else:
            feature["label_ids"] = task.labels.index(example.label) if example.label is not None else 0
        features.append(feature)
    return features, {"examples": len(examples), "truncated": truncated}


def feature_spec(task, max_seq_length):
    spec = {name: ((max_seq_length,), tf.int32) for name in ("input_word_ids", "input_mask", "input_type_ids")}
    spec.update({"label": ((), tf.float32)} if task.is_regression else {"label_ids": ((), tf.int32)})
    return spec


def per_example_loss(task):
    """Softmax cross-entropy, or squared error for regression, as the original `create_model`."""
    if task.is_regression:
        return lambda outputs, batch: tf.square(outputs["logits"][:, 0] - batch["label"])
    return lambda outputs, batch: tf.nn.sparse_softmax_cross_entropy_with_logits(
        batch["label_ids"], outputs["logits"])


def task_metrics(task, labels, logits):
    """The task's metrics from the model's logits on the labeled eval set."""
    if task.is_regression:
        return regression_metrics(labels, logits[:, 0])
    return classification_metrics(labels, np.argmax(logits, axis=-1))
