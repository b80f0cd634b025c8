"""One switch's desired flows, held as pieces (:mod:`controller.compile.pieces`).

Replacing some pieces gives the delta to send: the flows no piece holds any
more, and the flows no piece held before. A flow two pieces hold (two vNICs
sharing a rule's commit flow) is counted, so it leaves only with its last piece;
a piece that comes back the same sends nothing.
"""
from collections import defaultdict

from controller.compile.pieces import buckets, scope_buckets


class DesiredFlows:
    def __init__(self):
        self.pieces = {}                    # key -> tuple of flows
        self.flows = {}                     # cookie -> flow held by some piece
        self.fingerprint = 0                # xor of the cookies: changes with the set
        self._count = {}                    # cookie -> how many pieces hold it
        self._buckets = defaultdict(set)    # scope -> keys found by it

    def keys_in(self, scopes):
        """The keys of the pieces held for ``scopes`` (None: all)."""
        if scopes is None:
            return set(self.pieces)
        keys = set()
        for scope in scopes:
            for bucket in scope_buckets(scope):
                keys |= self._buckets.get(bucket, set())
        return keys

    def update(self, pieces, scopes=None):
        """Hold ``pieces`` {key: flows} as compiled for ``scopes``: a held piece of
        those scopes not among them is gone. Returns (removed, added) flows."""
        removed, added = {}, {}
        for key in self.keys_in(scopes) - set(pieces):
            self._set(key, (), removed, added)
        for key, flows in pieces.items():
            self._set(key, tuple(flows), removed, added)
        return list(removed.values()), list(added.values())

    def _set(self, key, flows, removed, added):
        old = self.pieces.get(key, ())
        if old == flows or (len(old) == len(flows)
                            and {f.cookie for f in old} == {f.cookie for f in flows}):
            return
        for f in old:
            c = f.cookie
            self._count[c] -= 1
            if not self._count[c]:
                del self._count[c]
                del self.flows[c]
                self.fingerprint ^= c
                if added.pop(c, None) is None:
                    removed[c] = f
        for f in flows:
            c = f.cookie
            n = self._count.get(c, 0)
            self._count[c] = n + 1
            if not n:
                self.flows[c] = f
                self.fingerprint ^= c
                if removed.pop(c, None) is None:
                    added[c] = f
        if flows:
            if key not in self.pieces:
                for bucket in buckets(key):
                    self._buckets[bucket].add(key)
            self.pieces[key] = flows
        elif key in self.pieces:
            del self.pieces[key]
            for bucket in buckets(key):
                self._buckets[bucket].discard(key)
