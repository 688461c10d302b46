"""Writes small fine-tuning tasks in the real GLUE and RACE layouts, made from the Botchan corpus,
so the fine-tuning scripts run end to end without downloads (README, tests).

    python run/make_finetuning_samples.py --output_dir=tfrecords/sample

- `glue/SST-2/`: sentences labeled 1 when they contain a negation ("not", "no", "never", "n't"),
  else 0, balanced; learnable by a small model, unlike the real SST-2 at this scale.
- `RACE/{train,dev,test}/{middle,high}/*.txt`: a passage of consecutive sentences, the question
  "Which word appears in the passage?", one option that does and three that do not.
- `SQuAD/{train,dev,heldout}-v{1.1,2.0}.json`: passages of two consecutive sentences that name one
  of the novel's characters ("Red Shirt", "Kiyo", ...), the question "Who is mentioned in the
  passage?" answered by the name's first mention; v2.0 adds, as a third of its questions, passages
  that name no one, unanswerable. A tiny model learns to find the names in a few minutes (an
  earlier "which word follows these three?" task needed far more data than a sample has).

The output is deterministic (seeded).
"""

import json
import os
import random
import re

from absl import app, flags

flags.DEFINE_string("corpus", "tfrecords/sample/botchan_corpus.txt", "One sentence per line.")
flags.DEFINE_string("output_dir", "tfrecords/sample", "Where glue/ and RACE/ go.")
flags.DEFINE_integer("seed", 12345, "Seed.")
FLAGS = flags.FLAGS

NEGATION = re.compile(r"\b(not|no|never|nothing|nobody)\b|n't\b", re.IGNORECASE)
SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}


def read_sentences(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if 4 <= len(line.split()) <= 40 and "\t" not in line]


def split_items(items, rng):
    items = list(items)
    rng.shuffle(items)
    train_end = int(len(items) * SPLITS["train"])
    dev_end = train_end + int(len(items) * SPLITS["dev"])
    return {"train": items[:train_end], "dev": items[train_end:dev_end], "test": items[dev_end:]}


def write_sst2(sentences, directory, rng):
    negative = [s for s in sentences if NEGATION.search(s)]
    positive = [s for s in sentences if not NEGATION.search(s)]
    positive = rng.sample(positive, len(negative))
    labeled = [(s, "1") for s in negative] + [(s, "0") for s in positive]
    os.makedirs(directory, exist_ok=True)
    for split, items in split_items(labeled, rng).items():
        with open(os.path.join(directory, f"{split}.tsv"), "w", encoding="utf-8") as f:
            if split == "test":
                f.write("index\tsentence\n")
                f.writelines(f"{i}\t{sentence}\n" for i, (sentence, _) in enumerate(items))
            else:
                f.write("sentence\tlabel\n")
                f.writelines(f"{sentence}\t{label}\n" for sentence, label in items)
    return len(labeled)


def race_question(passage_sentences, vocabulary, rng):
    passage = " ".join(passage_sentences)
    words = set(re.findall(r"[a-z]{4,}", passage.lower()))
    answer = rng.choice(sorted(words))
    distractors = rng.sample(sorted(vocabulary - words), 3)
    options = [answer] + distractors
    rng.shuffle(options)
    return passage, options, "ABCD"[options.index(answer)]


def write_race(sentences, directory, rng, passage_length=4, questions_per_passage=2):
    vocabulary = set(re.findall(r"[a-z]{4,}", " ".join(sentences).lower()))
    passages = [sentences[i:i + passage_length] for i in range(0, len(sentences) - passage_length, passage_length)]
    count = 0
    for split, items in split_items(passages, rng).items():
        for level in ("middle", "high"):
            os.makedirs(os.path.join(directory, split, level), exist_ok=True)
        for i, passage_sentences in enumerate(items[:200 if split == "train" else 40]):
            questions = [race_question(passage_sentences, vocabulary, rng) for _ in range(questions_per_passage)]
            record = {"id": f"{split}{i}.txt", "article": questions[0][0],
                      "questions": ["Which word appears in the passage?"] * len(questions),
                      "options": [q[1] for q in questions], "answers": [q[2] for q in questions]}
            level = "middle" if i % 2 else "high"
            with open(os.path.join(directory, split, level, f"{i}.txt"), "w", encoding="utf-8") as f:
                json.dump(record, f)
            count += len(questions)
    return count


# Botchan's characters by the names the translation gives them.
CHARACTERS = re.compile(r"\b(Red Shirt|Porcupine|Kiyo|Clown|Hubbard Squash|Koga|Badger|Madonna|Hotta|Yoshikawa)\b")
SQUAD_QUESTION = "Who is mentioned in the passage?"


def squad_question(passage, index):
    """The question about `passage`, answered by its first character name (none: unanswerable)."""
    question = {"id": f"q{index}", "question": SQUAD_QUESTION}
    mention = CHARACTERS.search(passage)
    if mention is None:
        return {**question, "answers": [], "is_impossible": True}
    return {**question, "answers": [{"text": mention.group(), "answer_start": mention.start()}], "is_impossible": False}


def write_squad(sentences, directory, rng, passage_length=2):
    passages = [" ".join(sentences[i:i + passage_length]) for i in range(0, len(sentences) - passage_length + 1,
                                                                         passage_length)]
    named = [p for p, passage in enumerate(passages) if len(set(CHARACTERS.findall(passage))) == 1]
    nameless = [p for p, passage in enumerate(passages) if not CHARACTERS.search(passage)]
    splits = split_items(named, rng)
    splits["heldout"] = splits.pop("test")
    nameless_splits = split_items(nameless, rng)
    nameless_splits["heldout"] = nameless_splits.pop("test")
    os.makedirs(directory, exist_ok=True)
    count = 0
    for split, indices in splits.items():
        for version in ("1.1", "2.0"):
            chosen = sorted(indices + (nameless_splits[split][:len(indices) // 2] if version == "2.0" else []))
            data = [{"title": f"Botchan {p}", "paragraphs": [{"context": passages[p],
                                                               "qas": [squad_question(passages[p], p)]}]}
                    for p in chosen]
            count += len(data)
            with open(os.path.join(directory, f"{split}-v{version}.json"), "w", encoding="utf-8") as f:
                json.dump({"version": version, "data": data}, f, indent=0)
    return count


def main(argv):
    del argv
    rng = random.Random(FLAGS.seed)
    sentences = read_sentences(FLAGS.corpus)
    sst2 = write_sst2(sentences, os.path.join(FLAGS.output_dir, "glue", "SST-2"), rng)
    race = write_race(sentences, os.path.join(FLAGS.output_dir, "RACE"), rng)
    squad = write_squad(sentences, os.path.join(FLAGS.output_dir, "SQuAD"), rng)
    print(f"SST-2 sample: {sst2} sentences; RACE sample: {race} questions; SQuAD sample: {squad} questions "
          f"→ {FLAGS.output_dir}")


if __name__ == "__main__":
    app.run(main)
