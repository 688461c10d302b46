import pytest
import sentencepiece as spm

from albert_tf.text import FullTokenizer, preprocess_text
from albert_tf.text.tokenizer import encode_pieces
from tests.conftest import run_script

SAMPLE_MODEL = "tfrecords/sample/botchan.model"


def test_preprocessing_collapses_space_strips_accents_and_lowercases():
    assert preprocess_text("  Café\t déjà\n VU ", lower=True) == "cafe deja vu"


def test_accents_are_stripped_even_without_lowercasing():
    assert preprocess_text("Ångström", lower=False) == "Angstrom"


def test_special_tokens_have_the_albert_ids():
    tokenizer = FullTokenizer(SAMPLE_MODEL)

    assert tokenizer.convert_tokens_to_ids(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]) == [0, 1, 2, 3, 4]


def test_tokenize_lowercases_and_round_trips_through_ids():
    tokenizer = FullTokenizer(SAMPLE_MODEL, do_lower_case=True)

    tokens = tokenizer.tokenize("The Headmaster was ANGRY.")

    assert "".join(tokens).replace("▁", " ").strip() == "the headmaster was angry."
    assert tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(tokens)) == tokens


def test_ids_and_pieces_agree_with_sentencepiece_over_the_whole_vocabulary():
    tokenizer = FullTokenizer(SAMPLE_MODEL)
    processor = spm.SentencePieceProcessor(model_file=SAMPLE_MODEL)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]

    assert (tokenizer.convert_ids_to_tokens(range(len(pieces))), tokenizer.convert_tokens_to_ids(pieces + ["zzqx"])) \
        == (pieces, [processor.piece_to_id(p) for p in pieces + ["zzqx"]])


def test_an_id_outside_the_vocabulary_is_an_error_naming_the_model():
    tokenizer = FullTokenizer(SAMPLE_MODEL)

    with pytest.raises(IndexError, match=r"\[-1\].*botchan.model.*0\.\.3999"):
        tokenizer.convert_ids_to_tokens([5, -1])


class MergingProcessor:
    """A SentencePiece stand-in whose vocabulary merges "3.0," into one piece, as large ones do."""

    PIECES = {"price 3.0,": ["▁price", "▁3.0,"], "3.0": ["▁3", ".0"], "x3.0,": ["▁x", "3.0,"]}

    def encode(self, text, out_type):
        return list(self.PIECES[text])


@pytest.mark.parametrize("text, expected", [
    ("price 3.0,", ["▁price", "▁3", ".0", ","]),  # a word-initial piece keeps its "▁"
    ("x3.0,", ["▁x", "3", ".0", ","]),            # a word-internal one does not gain one
])
def test_a_number_followed_by_a_comma_gives_the_comma_its_own_piece(text, expected):
    assert encode_pieces(MergingProcessor(), text) == expected


def train_number_model(directory):
    """An ALBERT-layout model made by run/train_tokenizer.py from text full of numbers, so that its
    vocabulary, as large ones do, has pieces ending in a digit and a comma ("0,", "▁1,")."""
    corpus = directory / "numbers.txt"
    corpus.write_text("".join(f"it cost {i % 9 + 1}.{i % 7}, then {i % 97 + 1},000, or 1,2 and 3, in words\n"
                              for i in range(300)))
    run_script("train_tokenizer.py", f"--input={corpus}", f"--model_prefix={directory / 'numbers'}", "--vocab_size=50")
    return str(directory / "numbers.model")


@pytest.fixture(scope="module")
def number_model(tmp_path_factory):
    return train_number_model(tmp_path_factory.mktemp("numbers"))


def test_train_tokenizer_gives_the_albert_layout(number_model):
    processor = spm.SentencePieceProcessor(model_file=number_model)

    assert [processor.id_to_piece(i) for i in range(13)] == \
        ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(", ")", '"', "-", ".", "–", "£", "€"]


def test_a_trained_model_s_number_comma_pieces_are_split(number_model):
    tokenizer = FullTokenizer(number_model)
    text = "3.0, 10,000, 1,2"

    # "0," inside a word loses its comma; "▁1," starting one keeps its "▁".
    assert (tokenizer.processor.encode(text, out_type=str), tokenizer.tokenize(text)) == (
        ["▁", "3", ".", "0,", "▁1", "0,", "00", "0,", "▁1,", "2"],
        ["▁", "3", ".", "0", ",", "▁1", "0", ",", "00", "0", ",", "▁1", ",", "2"])


def test_model_without_albert_symbols_is_refused(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"sentence number {i} of a tiny corpus" for i in range(200)))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "plain"), vocab_size=40,
                                   minloglevel=2)

    with pytest.raises(ValueError, match=r"plain\.model has no \['\[CLS\]', '\[SEP\]', '\[MASK\]'\] pieces"):
        FullTokenizer(str(tmp_path / "plain.model"))


def test_a_file_that_is_not_a_sentencepiece_model_is_named(tmp_path):
    vocabulary = tmp_path / "30k-clean.vocab"
    vocabulary.write_text("<pad>\t0\n<unk>\t0\n")

    with pytest.raises(ValueError, match=rf"{vocabulary} is not a SentencePiece model"):
        FullTokenizer(str(vocabulary))
