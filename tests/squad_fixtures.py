"""Small SQuAD inputs shared by the SQuAD tests: a JSON file writer, examples, and the windows of
one question over a short context with the sample tokenizer."""

import json

from albert_tf import FullTokenizer
from albert_tf.finetuning import squad_data

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
CONTEXT = "Tom has a red bike. He rides it to school every day."


def squad_file(path, qas, context=CONTEXT):
    """A one-paragraph SQuAD JSON file with the questions `qas`."""
    path.write_text(json.dumps({"version": "2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}))
    return str(path)


def example(qas_id, gold, context="c"):
    """An example with reference answers `gold` (none: unanswerable), for the metrics."""
    return squad_data.SquadExample(qas_id, "q", context, "", -1, not gold, tuple(gold))


def features_for(max_seq_length=18, doc_stride=4, is_training=True, context=CONTEXT, answer="school",
                 max_query_length=8):
    """The tokenizer, the example and the windows of "Where does he ride?" answered by `answer`."""
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    examples = [squad_data.SquadExample("q", "Where does he ride?", context, answer, context.index(answer),
                                        False, (answer,))]
    features, stats = squad_data.build_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                                                is_training)
    return tokenizer, examples, features, stats
