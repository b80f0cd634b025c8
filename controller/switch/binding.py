"""What the ports a switch reports mean for the bindings of vNICs: pure.

A vNIC is bound where its device is plugged (its name is its identity). A move
in progress is an *arriving* port: one whose ``migrating_to`` names the host it
is moving to, programmed there ahead at its reserved port number.

The rules, one function per report:
- a port **added** on a host binds it there (that is how a vNIC moves);
- a port **modified** binds it only where it already is, with its link up:
  a MODIFY from a host it has left (a late link change) never binds it back;
- an **arriving** port's link is the switch-over: plugged link-down (live
  migration) it waits; its link coming up (or plugged up) binds it there;
- a port **deleted** is unbound only after a moment (``UNBIND_DELAY``), and
  only if it has not appeared elsewhere since: a migrating vNIC leaves its
  source just before it appears on its destination;
- a host's **port list** (at connect) binds what it holds and unbinds what it
  no longer holds.

``seen`` is {device: (host, ofport)} of what the switches last reported; each
function returns the decision without side effects (but ``port_list``, which
replaces one host's entries of a :class:`Seen` in place), so the Ryu handler
only translates events and applies decisions.
"""
from dataclasses import dataclass

UNBIND_DELAY = 0.5      # seconds a vanished vNIC stays bound (it may be migrating)


@dataclass(frozen=True)
class Decision:
    bind: dict = None            # {device: ofport} to bind on the host
    unbind_later: str = ''       # device to unbind after UNBIND_DELAY unless seen elsewhere
    forget: bool = False         # drop the device from ``seen``


NOTHING = Decision()


def port_added(seen, host, device, ofport, link_up, arriving):
    """An OFPPR_ADD on ``host``; ``arriving``: the device is a port moving here."""
    if arriving and not link_up:
        return NOTHING                      # live migration: plugged, not resumed yet
    return Decision(bind={device: ofport})


def port_modified(seen, host, device, ofport, link_up, arriving):
    """An OFPPR_MODIFY (link or config change) on ``host``."""
    if arriving:
        return Decision(bind={device: ofport}) if link_up else NOTHING
    where = seen.get(device, (host,))[0]
    if where == host and link_up:
        return Decision(bind={device: ofport})
    return NOTHING


def port_deleted(seen, host, device):
    """An OFPPR_DELETE on ``host``."""
    mine = seen.get(device, ('',))[0] == host
    return Decision(unbind_later=device, forget=mine)


def still_gone(seen, host, device):
    """After UNBIND_DELAY: unbind ``device`` from ``host`` unless it appeared
    somewhere since (then its new binding stands)."""
    return seen.get(device, ('',))[0] != host


def port_list(seen, host, devices):
    """A host's whole port list ``{device: ofport}``: ``seen`` (a :class:`Seen`)
    updated in place, entries of this host it no longer reports gone."""
    for device in seen.of_host(host) - devices.keys():
        del seen[device]
    for device, ofport in devices.items():
        seen[device] = (host, ofport)
    return seen


class Seen(dict):
    """{device: (host, ofport)} that also knows each host's devices: a port
    list replaces one host's entries without a walk over every device (1,000
    switches connecting would each walk 20,000)."""

    def __init__(self, entries=()):
        super().__init__()
        self._by_host = {}
        for device, where in dict(entries).items():
            self[device] = where

    def __setitem__(self, device, where):
        if device in self:
            self._by_host[self[device][0]].discard(device)
        super().__setitem__(device, where)
        self._by_host.setdefault(where[0], set()).add(device)

    def __delitem__(self, device):
        self._by_host[self[device][0]].discard(device)
        super().__delitem__(device)

    def of_host(self, host):
        return set(self._by_host.get(host, ()))


class Sightings:
    """``seen`` held for the controller, as its switches report it, and where a
    device is plugged on a switch this controller may bind on (its master's:
    with replicas, a switch's bindings are written by its master alone).
    ``is_master(dpid)``; ``store``: the host records, to find a host's dpid."""

    def __init__(self, store, is_master):
        self.store, self.is_master = store, is_master
        self.seen = Seen()      # device -> (host, ofport)

    def port_list(self, host, devices):
        port_list(self.seen, host, devices)

    def _ours(self, host_name):
        host = self.store.get('host', host_name)
        return host is not None and self.is_master(host.dpid)

    def where(self, device):
        """(host, ofport) of ``device`` on a switch we bind on, or None: a port
        created for a vNIC already plugged is stored bound."""
        where = self.seen.get(device)
        return where if where and self._ours(where[0]) else None

    def mastered(self):
        """{device: (host, ofport)} of the devices on the switches we bind on."""
        ours = {host: self._ours(host) for host in {where[0] for where in self.seen.values()}}
        return {device: where for device, where in self.seen.items() if ours[where[0]]}
