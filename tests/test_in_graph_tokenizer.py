import random

import hypothesis
import hypothesis.strategies as st
import pytest
import tensorflow as tf

from albert_tf.text import FullTokenizer, InGraphTokenizer
from tests.test_tokenizer import train_number_model

SAMPLE_MODEL = "tfrecords/sample/botchan.model"
CORPUS = open("tfrecords/sample/botchan_corpus.txt", encoding="utf-8").read().split("\n")


@pytest.fixture(scope="module", params=[True, False], ids=["lowercased", "cased"])
def tokenizers(request):
    return FullTokenizer(SAMPLE_MODEL, request.param), InGraphTokenizer(SAMPLE_MODEL, request.param)


def python_ids(tokenizer, texts):
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)) for text in texts]


def test_graph_ids_equal_python_ids_on_the_whole_sample_corpus(tokenizers):
    python, graph = tokenizers

    assert graph(tf.constant(CORPUS)).to_list() == python_ids(python, CORPUS)


# Code points assigned in Python's Unicode version (ICU and RE2 may know newer ones), no surrogates.
UNICODE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cn")), max_size=30)
TRICKY_TEXT = st.text(st.sampled_from(list("aZ09 ,.-\t\u00a0\u3000éÉßΣİǅﬁ①²٣\u0301\u0308\u094d\u0941—€")), max_size=30)


@pytest.fixture(scope="module")
def traced_graph(tokenizers):
    """The graph tokenizer traced once, as a SavedModel runs it: a call costs milliseconds, where an
    eager call costs ~100 ms, so Hypothesis can afford its examples."""
    return tf.function(tokenizers[1], input_signature=[tf.TensorSpec([None], tf.string)])


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(st.one_of(UNICODE_TEXT, TRICKY_TEXT), min_size=1, max_size=8))
def test_graph_ids_equal_python_ids_on_any_text(tokenizers, traced_graph, texts):
    python, _ = tokenizers

    assert traced_graph(tf.constant(texts)).to_list() == python_ids(python, texts)


@pytest.fixture(scope="module")
def number_tokenizers(tmp_path_factory):
    """Tokenizers of a model with pieces like "0," and "▁1,": the sample model has none, so only
    this one exercises the graph's digit-comma rule."""
    model = train_number_model(tmp_path_factory.mktemp("numbers"))
    return FullTokenizer(model), InGraphTokenizer(model)


def test_graph_splits_the_comma_off_a_number(number_tokenizers):
    _, graph = number_tokenizers

    pieces = graph.tokenize(tf.constant(["3.0, 10,000, 1,2"])).to_list()[0]

    assert [piece.decode() for piece in pieces] == \
        ["▁", "3", ".", "0", ",", "▁1", "0", ",", "00", "0", ",", "▁1", ",", "2"]


def test_graph_ids_equal_python_ids_on_numbers_and_commas(number_tokenizers):
    python, graph = number_tokenizers
    rng = random.Random(0)
    texts = ["".join(rng.choice("0123 ,.x") for _ in range(rng.randint(1, 20))) for _ in range(300)]

    assert graph(tf.constant(texts)).to_list() == python_ids(python, texts)


def test_invalid_utf8_becomes_the_replacement_character(tokenizers):
    python, graph = tokenizers
    raw = b"caf\xe9 \xff ok"

    assert graph(tf.constant([raw])).to_list() == python_ids(python, [raw.decode("utf-8", errors="replace")])


def test_traces_for_any_batch_size(tokenizers):
    _, graph = tokenizers
    encode = tf.function(graph, input_signature=[tf.TensorSpec([None], tf.string)])

    assert [len(row) for row in encode(tf.constant(["", "a b", "x" * 3000])).to_list()][:2] == [0, 2]


def test_config_round_trip_keeps_the_model():
    layer = InGraphTokenizer(SAMPLE_MODEL, do_lower_case=False)

    clone = InGraphTokenizer.from_config(layer.get_config())

    assert clone(tf.constant(CORPUS[:50])).to_list() == layer(tf.constant(CORPUS[:50])).to_list()
