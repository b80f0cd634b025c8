"""Prometheus metrics of one controller, in the text exposition format.

Events are counted as they happen (reconciles, bundle commits, binds,
migrations, API requests); the state (switches, flows, per-rule counters) is
read at scrape time from what the core already holds: a scrape never asks a
switch anything (the per-rule counters are gathered in the background).
docs/metrics.md lists every metric.
"""
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
BUNDLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
prometheus_client.disable_created_metrics()   # no *_created series: they only add noise


def empty_state():
    return {'switches': [], 'rules': [], 'stats_read_at': 0.0}


class _State:
    """Collects the gauges and the per-rule counters from ``state()``:
    {'switches': [{'switch', 'dpid', 'synced', 'failing', 'flows'}],
     'rules': [{'group', 'rule', 'direction', 'ethertype', 'packets', 'bytes'}],
     'stats_read_at': unix time of the last flow-statistics reading}."""

    def __init__(self, state):
        self.state = state

    def describe(self):
        """Nothing up front: ``state`` is asked only at a scrape (the core's
        parts that answer it need not exist yet when the registry is made)."""
        return []

    def collect(self):
        state = self.state()
        switches = state['switches']
        count = GaugeMetricFamily('vnetsec_switches', 'OpenFlow switches by state',
                                  labels=['state'])
        count.add_metric(['connected'], len(switches))
        count.add_metric(['in_sync'], sum(1 for s in switches if s['synced']))
        count.add_metric(['failing'], sum(1 for s in switches if s['failing']))
        yield count
        synced = GaugeMetricFamily('vnetsec_switch_in_sync', '1 while the switch holds '
                                   'its desired flows', labels=['switch', 'dpid'])
        flows = GaugeMetricFamily('vnetsec_switch_flows', 'flows the controller has '
                                  'installed on the switch', labels=['switch', 'dpid'])
        for s in switches:
            synced.add_metric([s['switch'], s['dpid']], 1 if s['synced'] else 0)
            flows.add_metric([s['switch'], s['dpid']], s['flows'])
        yield synced
        yield flows
        labels = ['group', 'rule', 'direction', 'ethertype']
        packets = CounterMetricFamily('vnetsec_rule_packets', 'packets a security group '
                                      'rule allowed (new and established)', labels=labels)
        octets = CounterMetricFamily('vnetsec_rule_bytes', 'bytes a security group rule '
                                     'allowed (new and established)', labels=labels)
        for r in state['rules']:
            key = [r['group'], r['rule'], r['direction'], r['ethertype']]
            packets.add_metric(key, r['packets'])
            octets.add_metric(key, r['bytes'])
        yield packets
        yield octets
        errors = CounterMetricFamily('vnetsec_etcd_errors', 'calls to etcd that failed: '
                                     '"unreachable" a member did not answer, "no_member" '
                                     'none did', labels=['kind'])
        for kind in ('unreachable', 'no_member'):
            errors.add_metric([kind], state.get('etcd_errors', {}).get(kind, 0))
        yield errors
        yield GaugeMetricFamily('vnetsec_rule_stats_read_timestamp_seconds',
                                'when the per-rule counters were last read from the '
                                'switches', value=state['stats_read_at'])


class Metrics:
    """The registry of one controller (never the process-wide default one, so
    that several controllers or tests in one process do not collide)."""

    def __init__(self, state=empty_state):
        self.registry = CollectorRegistry(auto_describe=True)
        self.reconcile_seconds = Histogram(
            'vnetsec_reconcile_duration_seconds', 'time one reconcile took: compiling '
            'the affected switches and sending their deltas', registry=self.registry)
        self.bundle_commit_seconds = Histogram(
            'vnetsec_bundle_commit_latency_seconds', 'from sending a bundle of flow '
            'changes to the switch confirming its commit', buckets=BUNDLE_BUCKETS,
            registry=self.registry)
        self.binds = Counter('vnetsec_port_binds', 'ports bound to (found on) a '
                             'hypervisor', registry=self.registry)
        self.migrations = Counter('vnetsec_migrations', 'ports that moved to another '
                                  'hypervisor: "planned" through the migrate call, '
                                  '"unplanned" when the device just appeared there',
                                  ['mode'], registry=self.registry)
        self.api_requests = Counter('vnetsec_api_requests', 'REST API requests answered',
                                    ['method', 'route', 'status'], registry=self.registry)
        self.log_records = Counter('vnetsec_log_records', 'security-group log records '
                                   'written (one per connection)', ['verdict'],
                                   registry=self.registry)
        self.log_packet_ins = Counter('vnetsec_log_packet_ins', 'packets the switches '
                                      'sent up to be logged, as received',
                                      registry=self.registry)
        self.log_suppressed = Counter('vnetsec_log_suppressed', 'packets a switch\'s '
                                      'controller meter held back (log_rate)', ['switch'],
                                      registry=self.registry)
        self.registry.register(_State(state))

    def text(self):
        return prometheus_client.generate_latest(self.registry)
