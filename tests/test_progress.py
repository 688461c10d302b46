"""Progress lines of long loops over data."""

import re

from albert_tf.progress import logged_progress


def test_every_item_passes_through_in_order():
    assert list(logged_progress(iter(range(5)), "items", every_seconds=0)) == [0, 1, 2, 3, 4]


def test_a_loop_of_known_length_logs_done_total_rate_and_eta(absl_log):

    list(logged_progress(["a", "b", "c"], "examples tokenized", every_seconds=0))

    assert re.search(r"examples tokenized: 3/3 \(\d+/s, ETA 00:00:00\)", absl_log.text)


def test_a_loop_of_unknown_length_logs_done_and_rate(absl_log):

    list(logged_progress(iter("ab"), "batches", every_seconds=0))

    assert re.search(r"batches: 2 \(\d+/s\)$", absl_log.text, re.MULTILINE)
