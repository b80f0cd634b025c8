"""Security-group logging on the switches: which flows of a logged vNIC also
send their packet to the controller (issue 33; the records are built by
:mod:`controller.features.log_record`, written by :mod:`controller.features.log_sink`).

A *log* (record kind ``log``, like Neutron's network log) covers a security
group, a port, or every port, for an event: ``ACCEPT`` (a connection's first
packet, admitted by a rule), ``DROP`` (a packet no rule admits) or ``ALL``.
The firewall compiles as it would without logging; this module decorates the
flows of a covered vNIC afterwards (:func:`extend` wraps the firewall feature's
compiler, its one hook):

- DROP: its ``deny_ip`` flows send the refused packet to the controller;
- ACCEPT: its rules' commit flows send a copy of the connection's first packet
  (``+new``) and go on as before. A remote-group rule's commit flow is one
  conjunction the bridge shares, so it is decorated on every vNIC while any
  ACCEPT log exists (the controller keeps only the records a log covers).

Every packet a switch sends the controller goes through OpenFlow's controller
meter (``constants.LOG_METER``, rate ``[vnetsec] log_rate``), which the core sets
on each switch at connect: a flood of refused packets costs the controller at
most that many packet-ins per switch. With no log, no flow changes and no
packet is sent up.
"""
from dataclasses import dataclass, replace

from controller import constants as C
from controller.compile import pipeline as P
from controller.state.inventory import placed

KIND = 'log'
_ACL_TABLES = (P.EGRESS_ACL, P.INGRESS_ACL)
_SEND_UP = ('controller', C.LOG_MAX_LEN)


@dataclass(frozen=True)
class Log:
    """What to log: ``group_id`` and/or ``port_id`` ('' for any: both '' is
    every port), ``event`` one of ``constants.LOG_EVENTS``, and the ``file`` the
    records are appended to (one JSON object a line; '' for none: the recent
    records stay readable at ``GET /v1/logs/{id}/events``)."""
    id: str
    name: str = ''
    description: str = ''
    event: str = 'ALL'
    group_id: str = ''
    port_id: str = ''
    file: str = ''
    enabled: bool = True


def covers(log, port):
    """Whether ``log`` is about ``port``'s traffic."""
    return log.enabled and (not log.port_id or log.port_id == port.id) \
        and (not log.group_id or log.group_id in port.security_groups)


def wants(log, verdict):
    """Whether ``log`` records a ``verdict`` ('ACCEPT' or 'DROP')."""
    return log.event in ('ALL', verdict)


def logs(inv):
    return inv.records.get(KIND, {}).values()


def events_of(inv, port):
    """The verdicts some log records for ``port``: a subset of {ACCEPT, DROP}."""
    return frozenset(v for log in logs(inv) if covers(log, port)
                     for v in ('ACCEPT', 'DROP') if wants(log, v))


def any_accept(inv):
    return any(log.enabled and wants(log, 'ACCEPT') for log in logs(inv))


def decorate(flows, events, shared_accept):
    """A vNIC's firewall flows with logging: ``events`` its logged verdicts,
    ``shared_accept`` whether the bridge-wide remote-group commits are logged."""
    if not events and not shared_accept:
        return flows
    out = []
    for f in flows:
        if f.table in _ACL_TABLES:
            name = _priority_name(f)
            if name == 'deny_ip' and 'DROP' in events:
                f = replace(f, actions=(_SEND_UP,))
            elif _commits(f) and (name == 'rule' and 'ACCEPT' in events
                                  or name == 'remote_group' and shared_accept):
                f = replace(f, actions=f.actions[:1] + (_SEND_UP,) + f.actions[1:])
        out.append(f)
    return out


def _priority_name(f):
    return next((n for n, p in P.table(f.table).priorities.items() if p == f.priority), None)


def _commits(f):
    return bool(f.actions) and f.actions[0][0] == 'ct' and f.actions[0][1]


_DECORATED = {}     # (id(flows), events, shared) -> (flows, decorated): reused


def _decorated(flows, events, shared):
    key = (id(flows), events, shared)
    hit = _DECORATED.get(key)
    if hit is not None and hit[0] is flows:
        return hit[1]
    if len(_DECORATED) > 100_000:
        _DECORATED.clear()
    out = decorate(flows, events, shared)
    _DECORATED[key] = (flows, out)
    return out


def logging_pieces(pieces):
    """The firewall's compiler, with each covered vNIC's flows decorated."""
    def with_logs(inv, host, want):
        out = pieces(inv, host, want)
        if not inv.records.get(KIND):
            return out                          # logging off: the firewall's own flows
        shared = any_accept(inv)
        for key, flows in out.items():
            if key[1] == 'port' and key[2] in inv.ports:
                out[key] = _decorated(flows, events_of(inv, inv.ports[key[2]]), shared)
        return out
    return with_logs


def log_changed(inv, change, marks):
    """A log changed: the vNICs it covers (old and new); every vNIC if it logs
    ACCEPT (the bridge-wide remote-group commits follow any ACCEPT log)."""
    _, _, old, new = change
    records = [r for r in (old, new) if r is not None]
    every = any(r.enabled and wants(r, 'ACCEPT') for r in records)
    for port in inv.ports.values():
        if every or any(covers(r, port) for r in records):
            for name in placed(port):
                marks.add(name, ('port', port.id))


def extend(feature):
    """The firewall feature with logging: its compiler decorated, the ``log``
    record kind and its change rule, and the log sink started beside what the
    feature starts. Its routes and sink are imported here, late: they import
    this module."""
    from controller.features import log_api, log_sink  # noqa: F401 - the routes
    own, attach = feature.attach, log_sink.attach

    def both(parts):
        if own is not None:
            own(parts)
        attach(parts)
    return replace(feature, pieces=logging_pieces(feature.pieces),
                   records=dict(feature.records, **{KIND: Log}),
                   changes=dict(feature.changes, **{KIND: log_changed}), attach=both)
