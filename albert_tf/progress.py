"""Progress lines for long loops over data (tokenizing a task, predicting a file)."""

import time

from absl import logging


def logged_progress(items, what, total=None, every_seconds=10.0):
    """Yields `items`, logging at most every `every_seconds`: how many are done, the rate, and an
    ETA when the total is known (`len(items)` or `total`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_seconds:
            last = now
            rate = done / max(now - start, 1e-9)
            if total:
                eta = time.strftime("%H:%M:%S", time.gmtime((total - done) / rate))
                logging.info("%s: %d/%d (%.0f/s, ETA %s)", what, done, total, rate, eta)
            else:
                logging.info("%s: %d (%.0f/s)", what, done, rate)
