"""GLUE tasks in the standard TSV layout: which file, which columns, which labels.

Columns are found by their header names (CoLA's headerless train/dev files by position), so a
file with a missing or extra column fails with its path and line instead of shifting fields.
"""

import csv
import dataclasses
import io
import os

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.constants import GLUE_TASK_NAMES
from albert_tf.finetuning.features import encode_text
from albert_tf.finetuning.metrics import classification_metrics, regression_metrics
from albert_tf.progress import logged_progress

MNLI_LABELS = ("contradiction", "entailment", "neutral")
STS_B_SCORE_RANGE = (0.0, 5.0)
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
    for them (the original selected those by accuracy).

    skips_short_rows: rows with too few columns are skipped and counted in the log instead of
    stopping the run. Only QQP: its released train.tsv has such rows, which the original skipped
    too (silently)."""

    name: str
    labels: tuple
    train: Split
    dev: Split
    test: Split
    metric: str = "eval_accuracy"
    submission_name: str = ""
    skips_short_rows: bool = False

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
             test=Split("test.tsv", "question1", "question2", index="id"), metric="f1", submission_name="QQP",
             skips_short_rows=True),
    _index_pair_task("rte", ENTAILMENT_LABELS, "sentence1", "sentence2", "label", "RTE"),
    GlueTask("sst-2", BINARY_LABELS, train=Split("train.tsv", "sentence", label="label"),
             dev=Split("dev.tsv", "sentence", label="label"), test=Split("test.tsv", "sentence", index="index"),
             submission_name="SST-2"),
    _index_pair_task("sts-b", (), "sentence1", "sentence2", "score", "STS-B", metric="pearson"),
    _index_pair_task("wnli", BINARY_LABELS, "sentence1", "sentence2", "label", "WNLI"),
)}
assert tuple(GLUE_TASKS) == GLUE_TASK_NAMES, "albert_tf.constants.GLUE_TASK_NAMES lists the tasks in order"

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


# The original reads <data_dir>/<folder>/<file> (run_glue.sh passes the GLUE root as --data_dir).
ORIGINAL_FOLDERS = {"cola": "CoLA", "mnli": "MNLI", "mismnli": "MNLI", "ax": "MNLI", "mrpc": "MRPC", "qnli": "QNLI",
                    "qqp": "QQP", "rte": "RTE", "sst-2": "SST-2", "sts-b": "STS-B", "wnli": "WNLI"}
# Files the original reads from elsewhere: the diagnostic set has a folder of its own.
ORIGINAL_PATHS = {("ax", "test"): os.path.join("diagnostic", "diagnostic.tsv")}


def split_path(data_dir, task, split_name):
    """The file of `split_name`: in the original's layout, `<data_dir>/<TASK>/<file>`, else in
    `<data_dir>` itself; an error listing both when neither exists."""
    file = getattr(task, split_name).file
    original = ORIGINAL_PATHS.get((task.name, split_name), os.path.join(ORIGINAL_FOLDERS[task.name], file))
    candidates = [os.path.join(data_dir, original), os.path.join(data_dir, file)]
    for path in candidates:
        if tf.io.gfile.exists(path):
            return path
    raise FileNotFoundError(
        f"{task.name} {split_name} file not found: tried {candidates[0]} (the original's layout, --data_dir the GLUE "
        f"folder) and {candidates[1]} (--data_dir the task's folder)")


def read_examples(data_dir, task, split_name):
    """Examples of `split_name` ("train", "dev" or "test") from `data_dir` (see `split_path`), in file order."""
    split = getattr(task, split_name)
    path = split_path(data_dir, task, split_name)
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        # MRPC's files start with a byte-order mark, which would otherwise stick to the first column name.
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise GlueFormatError(f"{path}:{line}: byte 0x{data[e.start]:02x} is not UTF-8; GLUE files are UTF-8 "
                              "(re-encode the file, e.g. with iconv)") from None
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
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

    examples, skipped = [], []
    for line, row in enumerate(rows, start=first_line):
        if not row:
            continue
        if len(row) < columns and task.skips_short_rows:
            skipped.append(line)
            continue
        if len(row) != columns:
            raise GlueFormatError(f"{path}:{line}: expected {columns} tab-separated columns, got {len(row)}")
        label = None
        if split.label is not None:
            label = _parse_label(task, field(row, split.label), f"{path}:{line}")
        guid = field(row, split.index) if split.index is not None else str(line - first_line)
        text_b = field(row, split.text_b) if split.text_b is not None else None
        examples.append(GlueExample(f"{split_name}-{guid}", field(row, split.text_a), text_b, label, f"{path}:{line}"))
    if skipped:
        logging.warning("%s: skipped %d row(s) with fewer than %d columns, as the original did for %s (lines %s%s).",
                        path, len(skipped), columns, task.name, ", ".join(map(str, skipped[:10])),
                        ", ..." if len(skipped) > 10 else "")
    return examples


def _parse_label(task, value, where):
    if task.is_regression:
        try:
            score = float(value)
        except ValueError:
            raise GlueFormatError(f"{where}: {task.name} label {value!r} is not a number") from None
        low, high = STS_B_SCORE_RANGE
        if not low <= score <= high:
            raise GlueFormatError(f"{where}: {task.name} score {value!r} is outside [{low:g}, {high:g}]")
        return score
    if value not in task.labels:
        raise GlueFormatError(f"{where}: {task.name} label {value!r} is not one of {list(task.labels)}")
    return value


def build_features(examples, task, tokenizer, max_seq_length):
    """Model inputs and labels of each example, and counts (examples, truncated).

    Labels are class indices into `task.labels` (`label_ids`, int), or the score for
    regression (`label`, float); unlabeled (test) examples get 0.
    """
    features, truncated = [], 0
    for example in logged_progress(examples, f"{task.name}: examples tokenized"):
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


# TFDS's GLUE datasets: text features per task, and split names where they differ.
TFDS_TEXT_FEATURES = {
    "cola": ("sentence", None), "sst-2": ("sentence", None), "mrpc": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"), "qnli": ("question", "sentence"), "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"), "sts-b": ("sentence1", "sentence2"), "mnli": ("premise", "hypothesis"),
    "mismnli": ("premise", "hypothesis"), "ax": ("premise", "hypothesis"),
}
TFDS_SPLITS = {"mnli": {"dev": "validation_matched", "test": "test_matched"},
               "mismnli": {"dev": "validation_mismatched", "test": "test_mismatched"},
               "ax": {"dev": "validation_matched"}}


def tfds_dataset_dir(tfds_name, tfds_data_dir):
    """The prepared directory of `name[/config][:version]` under `tfds_data_dir` (newest version
    when none is given); an error naming both flags when it is not there."""
    name, _, version = tfds_name.partition(":")
    base = os.path.join(tfds_data_dir, *name.split("/"))
    versions = sorted((v for v in tf.io.gfile.listdir(base) if v[:1].isdigit()),
                      key=lambda v: [int(p) for p in v.strip("/").split(".") if p.isdigit()]) \
        if tf.io.gfile.isdir(base) else []
    if version:
        versions = [v for v in versions if v.strip("/") == version]
    if not versions:
        raise FileNotFoundError(f"--tfds_name={tfds_name}: no prepared dataset under --tfds_data_dir={tfds_data_dir} "
                                f"(looked for {base}/<version>); datasets are read locally, never downloaded")
    return os.path.join(base, versions[-1].strip("/"))


def read_tfds_examples(tfds_name, tfds_data_dir, task, split_name):
    """Examples of a GLUE task from a TFDS dataset prepared in `tfds_data_dir` (no downloads).

    TFDS class labels map to the task's labels by name where the names are the task's (MNLI,
    QNLI, RTE), else by index (GLUE's "0"/"1" tasks).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError("--tfds_name needs tensorflow-datasets: pip install 'albert_tf[tfds]'") from None
    builder = tfds.builder_from_directory(tfds_dataset_dir(tfds_name, tfds_data_dir))
    split = TFDS_SPLITS.get(task.name, {}).get(split_name, "validation" if split_name == "dev" else split_name)
    if split not in builder.info.splits:
        raise ValueError(f"--tfds_name={tfds_name} has no split {split!r} for {task.name} {split_name}; it has "
                         f"{sorted(builder.info.splits)}")
    text_a, text_b = TFDS_TEXT_FEATURES[task.name]
    label_names = None if task.is_regression else builder.info.features["label"].names
    by_name = label_names is not None and set(label_names) <= set(task.labels)
    examples = []
    for i, row in enumerate(builder.as_dataset(split=split).as_numpy_iterator()):
        label = row.get("label")
        if task.is_regression:
            label = float(label) if label is not None else None
        elif label is not None and label >= 0:
            label = _parse_label(task, label_names[label] if by_name else str(label), f"{tfds_name}[{split}][{i}]")
        else:
            label = None  # TFDS marks unlabeled (test) rows with -1
        guid = str(row["idx"]) if "idx" in row else str(i)
        examples.append(GlueExample(f"{split_name}-{guid}", row[text_a].decode("utf-8"),
                                    row[text_b].decode("utf-8") if text_b else None, label,
                                    f"{tfds_name}[{split}][{i}]"))
    return examples
