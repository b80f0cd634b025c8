"""Controller-initiated OpenFlow connections.

A switch may listen for its controllers (an OVS ``ptcp:PORT:IP`` or
``pssl:PORT:IP`` controller target) instead of connecting to them; its host
record then names that address (``switch_address``) and every controller
dials it as soon as it starts. A restarted controller so has every switch back
at once: a switch that connects itself retries on its own back-off, which OVS
keeps at 1 s or more (counted in whole seconds: 1-2 s after the controller is
back).
"""
import logging

LOG = logging.getLogger('vnetsec.dialer')


def parse_address(text):
    """'172.30.250.1:6653' -> ('172.30.250.1', 6653): a switch_address as the
    API checked it (:mod:`controller.state.schemas`)."""
    ip, _, port = text.rpartition(':')
    return ip, int(port)


class Dialer:
    """One dialing loop per host whose record names a switch address, from
    ``start`` on (before it, Ryu's OpenFlow handler may not exist yet).
    ``dial(address)`` starts a loop and returns the function that stops it."""

    def __init__(self, dial):
        self._dial = dial
        self.dialing = {}       # host name -> ((ip, port), stops its loop)
        self.started = False

    def start(self, hosts):
        """Dial every host the store holds now; follow their changes from here."""
        self.started = True
        for host in hosts:
            self.host_changed(None, host)

    def host_changed(self, old, new):
        """A host record was created, changed or deleted: dial its new address."""
        if not self.started:
            return
        name = (new or old).name
        address = parse_address(new.switch_address) if new and new.switch_address else None
        current = self.dialing.get(name)
        if address == (current[0] if current else None):
            return
        if current:
            current[1]()
            del self.dialing[name]
        if address:
            LOG.info('dialing switch %s at %s:%d', name, *address)
            self.dialing[name] = (address, self._dial(address))
