"""RACE multiple-choice reading comprehension in its released layout.

`<data_dir>/{train,dev,test}/{middle,high}/*.txt`, each file one JSON passage: `article`, and
parallel lists `questions`, `options` (four strings per question) and `answers` ("A"-"D"); or
the original's `<data_dir>/RACE/{train,dev,test}/{middle,high}/all.txt`, one passage per line.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from albert_tf.finetuning.features import encode_tokens
from albert_tf.progress import logged_progress

NUM_CHOICES = 4
ANSWERS = "ABCD"
LEVELS = ("middle", "high")


class RaceFormatError(ValueError):
    """A RACE file that does not have the released layout; the message names the file."""


@dataclasses.dataclass(frozen=True)
class RaceExample:
    guid: str
    level: str
    article: str
    question: str
    options: tuple
    label: int  # index of the right option


def split_files(data_dir, split, levels=LEVELS):
    """[(level, path)] of `split` ("train", "dev" or "test"), in the order they are read.

    A level's files are `<data_dir>/RACE/<split>/<level>/*.txt`, the original's layout (its
    `all.txt`), else `<data_dir>/<split>/<level>/*.txt`, the released download's."""
    files = []
    for level in levels:
        directories = [os.path.join(data_dir, "RACE", split, level), os.path.join(data_dir, split, level)]
        paths = next((found for found in (sorted(tf.io.gfile.glob(os.path.join(d, "*.txt"))) for d in directories)
                      if found), None)
        if not paths:
            raise FileNotFoundError(f"no RACE files for {split}/{level}: looked for *.txt in {directories[0]} (the "
                                    f"original's layout) and {directories[1]} (the released download's)")
        files.extend((level, path) for path in paths)
    return files


def read_examples(data_dir, split, levels=LEVELS):
    """Every question of `split` of the given levels, in file order."""
    examples = []
    for level, path in split_files(data_dir, split, levels):
        examples.extend(_read_file(path, f"{split}/{level}/{os.path.basename(path)}", level))
    return examples


def _read_file(path, name, level):
    """A file holds one JSON passage (the download's layout) or one passage per line (the original's all.txt)."""
    with tf.io.gfile.GFile(path) as f:
        text = f.read()
    try:
        records = [(name, path, json.loads(text))]
    except json.JSONDecodeError as whole_file_error:
        lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(lines) < 2:
            raise RaceFormatError(f"{path}: not valid JSON ({whole_file_error})") from None
        records = []
        for number, line in lines:
            try:
                records.append((f"{name}:{number}", f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise RaceFormatError(f"{path}:{number}: not valid JSON ({e})") from None
    examples = []
    for record_name, where, record in records:
        examples.extend(_passage_examples(record, record_name, where, level))
    return examples


def _passage_examples(record, name, where, level):
    missing = [key for key in ("article", "questions", "options", "answers") if key not in record]
    if missing:
        raise RaceFormatError(f"{where}: missing field(s) {missing}")
    questions, options, answers = record["questions"], record["options"], record["answers"]
    if not len(questions) == len(options) == len(answers):
        raise RaceFormatError(f"{where}: {len(questions)} questions, {len(options)} option lists and {len(answers)} "
                              "answers; expected one of each per question")
    examples = []
    for i, (question, choices, answer) in enumerate(zip(questions, options, answers)):
        if len(choices) != NUM_CHOICES:
            raise RaceFormatError(f"{where}: question {i} has {len(choices)} options; expected {NUM_CHOICES}")
        if answer not in ANSWERS:
            raise RaceFormatError(f"{where}: question {i} has answer {answer!r}; expected one of A, B, C, D")
        examples.append(RaceExample(f"{name}#{i}", level, record["article"], question, tuple(choices),
                                    ANSWERS.index(answer)))
    return examples


def question_with_option(question, option):
    """The option fills the blank of a cloze question ("_"), else follows the question."""
    return question.replace("_", option) if "_" in question else f"{question} {option}"


def build_features(examples, tokenizer, max_seq_length, max_qa_length):
    """[CLS] article [SEP] question+option [SEP] for each option, [4, max_seq_length] per example.

    As the original: the question+option keeps its last `max_qa_length` tokens and stays whole;
    only the article is cut, from its end, to the room left. Returns the features and counts
    (examples, truncated).
    """
    features, truncated = [], 0
    for example in logged_progress(examples, "RACE: questions tokenized"):
        article = tokenizer.tokenize(example.article)
        choices, cut = [], False
        for option in example.options:
            qa = tokenizer.tokenize(question_with_option(example.question, option))
            kept_qa = qa[-max_qa_length:]
            kept_article = article[:max_seq_length - 3 - len(kept_qa)]
            cut = cut or len(kept_qa) < len(qa) or len(kept_article) < len(article)
            choices.append(encode_tokens(tokenizer, kept_article, kept_qa, max_seq_length))
        truncated += cut
        features.append({name: np.array([getattr(choice, name) for choice in choices], np.int32)
                         for name in ("input_word_ids", "input_mask", "input_type_ids")}
                        | {"label_ids": example.label})
    return features, {"examples": len(examples), "truncated": truncated}


def feature_spec(max_seq_length):
    spec = {name: ((NUM_CHOICES, max_seq_length), tf.int32)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}
    spec["label_ids"] = ((), tf.int32)
    return spec


def per_example_loss(outputs, batch):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(batch["label_ids"], outputs["logits"])


def race_metrics(labels, logits, levels):
    """Accuracy overall and per level (RACE reports middle and high apart)."""
    correct = np.argmax(logits, axis=-1) == np.asarray(labels)
    levels = np.asarray(levels)
    results = {"eval_accuracy": float(correct.mean())}
    for level in LEVELS:
        if (levels == level).any():
            results[f"{level}_accuracy"] = float(correct[levels == level].mean())
    return results
