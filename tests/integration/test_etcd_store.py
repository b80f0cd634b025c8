"""A controller on the etcd store: plain ryu-manager configured with
``store = etcd://...`` (a real etcd 3.4 member started here, stopped by its
PID), a small data center attached to it; VMs of a network reach each other
and no others, and the state is in etcd (a second store object sees it)."""
import signal

import pytest

from controller.state.etcd_store import EtcdStore
from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.datacenter import DataCenter, _free_port
from mininet_topos.etcd_proc import EtcdProcess, etcd_binary
from tests.integration.helpers import expected_pairs, reachability


def test_a_data_center_on_a_controller_using_etcd(tmp_path):
    if not etcd_binary():
        pytest.skip('no etcd binary: install Debian etcd-server (scripts/setup.sh does)')
    etcd = EtcdProcess(str(tmp_path / 'etcd')).start()
    ofp_port, api_port = _free_port(6653), _free_port(8080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, 'etcd-token', '0.0.0.0',
                 ofp_port, store=etcd.url)
    api = 'http://127.0.0.1:%d' % api_port
    controller = ControllerProcess(conf, str(tmp_path / 'ryu.log'), api, 'etcd-token')
    try:
        controller.start()
        with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000',
                        controller='127.0.0.1:%d' % ofp_port, api_url=api,
                        token='etcd-token') as dc:
            network_of = dc.topo.network_of_vm
            assert reachability(dc) == expected_pairs(
                dc, lambda a, b: network_of[a.name] == network_of[b.name])
            reader = EtcdStore.from_url(etcd.url)
            try:
                assert ({p.device for p in reader.list('port')}
                        == {p['device'] for p in dc.client.get('/v1/ports')})
                assert all(p.bound_host for p in reader.list('port'))
            finally:
                reader.close()
        assert not (tmp_path / 'state.db').exists()       # nothing went to SQLite
    finally:
        controller.stop()
        etcd.stop(signal.SIGKILL)
