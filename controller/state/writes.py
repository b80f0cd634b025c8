"""How the operations write under several writers: each validates everything
first, then writes in one store transaction; when a concurrent writer got there
first, the store refuses (``Conflict``: a record changed, or a unique value is
taken) and the operation is redone on the fresh state, where its checks see the
other write."""
import functools
import random
import time

from controller.state.store import Conflict

CONFLICT_ATTEMPTS = 50      # each round of a conflict lets one writer through


def retried(operation):
    """Redo ``operation`` when a concurrent writer got there first."""
    @functools.wraps(operation)
    def run(self, *args, **kwargs):
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return operation(self, *args, **kwargs)
            except Conflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.002 * attempt))   # writers spread out
                self.store.refresh()
    return run
