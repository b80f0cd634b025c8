"""Waiting until a write is on the switches: ``?wait=applied`` on any write of
the REST API, as ``ovn-nbctl --wait=hv`` waits for the chassis.

A write's changes reach the core before the write returns (both stores tell
their watchers first). The core counts them; a waiter takes that count, waits
for a reconcile that took every change up to it in, and then for every switch
the core programs to confirm the last bundle it had been sent by then (a
bundle's commit reply: the moment its flows are installed). A switch that
disconnects, or that another replica masters now, drops out (it gets
everything from its master); one that refused its flows ends the wait at once,
named, instead of at the timeout.
"""


class Waiter:
    def __init__(self, changes, event):
        self.changes = changes      # the count of changes this waiter waits for
        self.event = event
        self.pending = None         # dpid -> the bundle it must confirm (None: not yet known)
        self.failing = {}           # dpid -> why it holds none of it


class AppliedWaiters:
    """The waiters of one core. ``make_event``: an event a green thread can
    wait on with a timeout (Ryu's hub.Event)."""

    def __init__(self, make_event):
        self.make_event = make_event
        self.changes = 0            # changes noted so far
        self.reconciled = 0         # of them, those a finished reconcile took in
        self._waiters = []

    @property
    def waiting(self):
        """Whether any write waits (else there is nothing to check)."""
        return bool(self._waiters)

    def changed(self, count=1):
        self.changes += count

    def wait(self, timeout, check):
        """Block up to ``timeout`` seconds; ``check()`` runs :meth:`check`
        with the core's state. Returns (dpids not confirmed, {dpid: why failing})."""
        waiter = Waiter(self.changes, self.make_event())
        self._waiters.append(waiter)
        try:
            check()
            waiter.event.wait(timeout)
        finally:
            self._waiters.remove(waiter)
        pending = sorted(waiter.pending) if waiter.pending is not None else None
        return pending, waiter.failing

    def check(self, sent, confirmed, failing, connected):
        """Wake the waiters that are done. ``sent``/``confirmed``: dpid -> the id
        of the last bundle sent to/committed by it; ``failing``: dpid -> why;
        ``connected``: the dpids the core holds and programs."""
        for waiter in self._waiters:
            if waiter.pending is None:
                if self.reconciled < waiter.changes:
                    continue
                waiter.pending = {d: b for d, b in sent.items() if d in connected}
            for dpid, bundle in list(waiter.pending.items()):
                if dpid not in connected or confirmed.get(dpid, 0) >= bundle:
                    del waiter.pending[dpid]
                elif dpid in failing:
                    waiter.failing[dpid] = failing[dpid]
                    del waiter.pending[dpid]
            if not waiter.pending:
                waiter.event.set()
