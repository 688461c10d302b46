"""Turns the Project Gutenberg text of *Botchan* into the sample corpus in the pretraining input
format: one sentence per line, a blank line between documents (the translator's note, then one
document per chapter).

    python run/prepare_sample_corpus.py --input=../shared/data/botchan.txt \\
        --output=tfrecords/sample/botchan_corpus.txt
"""

import re

from absl import app, flags

flags.DEFINE_string("input", "../shared/data/botchan.txt", "Project Gutenberg text of Botchan.")
flags.DEFINE_string("output", "tfrecords/sample/botchan_corpus.txt", "Where the corpus goes.")
FLAGS = flags.FLAGS

START, END = "*** START OF", "End of Project Gutenberg's"
# A sentence ends at . ! or ? (possibly followed by a closing quote) before a space and a capital
# or an opening quote.
SENTENCE_END = re.compile(r'(?<=[.!?])(["\']?)\s+(?=["\'(]?[A-Z])')


def documents(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(START)) + 1
    end = next(i for i, line in enumerate(lines) if line.startswith(END))
    body, current = [], []
    for line in lines[start:end]:
        if re.fullmatch(r"CHAPTER [IVX]+\.?", line.strip()):
            body.append(current)
            current = []
        elif line.strip():
            current.append(line.strip())
    body.append(current)
    return [" ".join(doc) for doc in body if doc]


def sentences(document):
    return [s.strip() for s in SENTENCE_END.sub(lambda m: m.group(1) + "\n", document).split("\n") if s.strip()]


def main(argv):
    del argv
    with open(FLAGS.input, encoding="utf-8") as f:
        docs = documents(f.read())
    with open(FLAGS.output, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(sentences(doc)) for doc in docs) + "\n")
    print(f"{len(docs)} documents, {sum(len(sentences(d)) for d in docs)} sentences → {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
