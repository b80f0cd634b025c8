"""Where logged packets end up: records per connection, written per log.

The core hands each packet-in here (:meth:`LogSink.packet_in`); the record is
built by :mod:`controller.features.log_record` from the switch's desired flows,
kept once per connection, and given to every log that covers its vNIC and
verdict (an ACCEPT only to a log of the group whose rule admitted it, when the
log names a group): appended as one JSON line to the log's file, and kept in
memory for ``GET /v1/logs/{id}/events``. While logs exist it also reads each
switch's controller meter: what the meter held back is counted in ``/metrics``
and written to every log as a ``suppressed`` record.
"""
import collections
import json
import logging
import os
import time

from controller import constants as C
from controller.features import firewall_log, log_record

LOG = logging.getLogger('vnetsec.log')
RECENT = 1000           # records kept per log for GET /v1/logs/{id}/events
DENIALS = 200           # recent DROP records kept for the web view
_SINK = [None]          # the running controller's sink (one per process)


def log_dir():
    """``[vnetsec] log_dir``, by default ``logs/`` beside the database."""
    from controller.config import CONF
    conf = CONF.vnetsec
    return conf.log_dir or os.path.join(os.path.dirname(conf.db_path) or '.', 'logs')


def path_of(log):
    """Where a log's records are appended ('' for none): its file in the log directory."""
    return os.path.join(log_dir(), log.file) if log.file else ''


def running():
    """The sink of this controller, or None (no firewall app, a unit test)."""
    return _SINK[0]


class LogSink:
    """``inventory``: the engine's live one; ``desired(dpid)``: that switch's
    desired flows by cookie; ``meter_stats()``: [(dpid, band packet count)];
    ``metrics``: the controller's registry (``log_records``, ``log_suppressed``)."""

    def __init__(self, inventory, desired, meter_stats, metrics=None):
        self.inv, self.desired, self.meter_stats = inventory, desired, meter_stats
        self.metrics = metrics
        self.sessions = log_record.Sessions()
        self.recent = {}            # log id -> deque of its records
        self.denials = collections.deque(maxlen=DENIALS)
        self.suppressed = {}        # dpid -> band packet count last read
        self.counts = collections.Counter()   # packet_ins, records, not_logged, suppressed
        self._files = {}            # path -> open file

    # ---- packets sent up ------------------------------------------------------------
    def packet_in(self, dpid, table_id, cookie, fields, data, now=None):
        """One packet a switch sent up; the records it made (per log)."""
        now = time.time() if now is None else now
        self.counts['packet_ins'] += 1
        if self.metrics is not None:
            self.metrics.log_packet_ins.inc()
        host = self.inv.host_by_dpid(dpid)
        flow = self.desired(dpid).get(cookie)
        record = host and log_record.build(self.inv, host.name, table_id, fields, data, flow,
                                           now)
        if not record:
            self.counts['not_logged'] += 1
            return []
        if not self.sessions.first(log_record.connection(record, data), now):
            return []
        port = self.inv.ports.get(record['port'])
        written = []
        for log in firewall_log.logs(self.inv):
            if firewall_log.covers(log, port) and firewall_log.wants(log, record['verdict']) \
                    and (record['verdict'] == 'DROP' or not log.group_id
                         or log.group_id == record['group_id']):
                self.write(log, dict(record, log=log.id))
                written.append(log.id)
        if written:
            self.counts['records'] += 1
            if self.metrics is not None:
                self.metrics.log_records.labels(record['verdict']).inc()
            if record['verdict'] == 'DROP':
                self.denials.append(record)
        return written

    def write(self, log, record):
        self.recent.setdefault(log.id, collections.deque(maxlen=RECENT)).append(record)
        path = path_of(log)
        if path:
            try:
                self._file(path).write(json.dumps(record, sort_keys=True) + '\n')
            except OSError as e:
                LOG.warning('log %s: cannot write %s: %s', log.id, path, e)

    def _file(self, path):
        f = self._files.get(path)
        if f is None or f.closed or not os.path.exists(path):
            if os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            f = self._files[path] = open(path, 'a', buffering=1)   # a line at a time
        return f

    def events(self, log_id, limit=RECENT):
        return list(self.recent.get(log_id, ()))[-limit:]

    def forget(self, log):
        """A log deleted: its records in memory, and its file closed."""
        self.recent.pop(log.id, None)
        f = self._files.pop(path_of(log), None)
        if f is not None:
            f.close()

    def recent_denials(self, limit=DENIALS):
        return list(self.denials)[-limit:]

    # ---- what the meters held back ------------------------------------------------
    def read_meters(self, now=None):
        """Count what each switch's controller meter dropped since the last
        reading; write a ``suppressed`` record to every log. Asks nothing while
        no log exists."""
        active = [log for log in firewall_log.logs(self.inv) if log.enabled]
        if not active:
            return 0
        total = 0
        for dpid, dropped in self.meter_stats():
            before = self.suppressed.get(dpid)
            self.suppressed[dpid] = dropped
            delta = dropped - before if before is not None and dropped >= before else 0
            if before is None:
                delta = dropped
            if not delta:
                continue
            total += delta
            host = self.inv.host_by_dpid(dpid)
            name = host.name if host else '%016x' % dpid
            if self.metrics is not None:
                self.metrics.log_suppressed.labels(name).inc(delta)
            record = {'time': log_record.stamp(time.time() if now is None else now),
                      'hypervisor': name,
                      'verdict': 'SUPPRESSED', 'suppressed': delta,
                      'why': 'the switch\'s controller meter (log_rate) held back '
                             '%d packets' % delta}
            for log in active:
                self.write(log, dict(record, log=log.id))
        self.counts['suppressed'] += total
        return total


def attach(parts):
    """Start the sink of a controller loading the firewall: packet-ins come
    from the core (``parts.packet_in``), meters are read every
    ``stats_interval`` seconds."""
    from controller.ryu_facade import every
    sink = LogSink(parts.inventory,
                   lambda dpid: parts.ofctrl.desired[dpid].flows
                   if dpid in parts.ofctrl.desired else {},
                   lambda: parts.ofctrl.meter_stats(C.LOG_METER), parts.metrics)
    parts.packet_in.append(sink.packet_in)
    _SINK[0] = sink

    if parts.conf.stats_interval > 0:
        every(parts.conf.stats_interval, sink.read_meters, 'reading the log meters')
    return sink


def pointer(inv, port, packet):
    """Where a refused packet of ``port`` is logged, for a trace: the logs that
    record its drops (id, name, file, the events URL) and the recent records of
    that connection's kind (same vNIC, peer, protocol and destination port)."""
    logs = [log for log in firewall_log.logs(inv)
            if firewall_log.covers(log, port) and firewall_log.wants(log, 'DROP')]
    if not logs:
        return None
    sink = running()
    wanted = {'vm': port.name, 'protocol': packet['protocol'], 'src': packet['src'],
              'dst': packet['dst'], 'dport': packet['dport'], 'verdict': 'DROP'}
    records = [r for log in logs for r in (sink.events(log.id) if sink else ())
               if all(r.get(k) == v for k, v in wanted.items() if v is not None)]
    return {'logs': [{'id': log.id, 'name': log.name, 'path': path_of(log),
                      'events': '/v1/logs/%s/events' % log.id} for log in logs],
            'records': records[-5:]}
