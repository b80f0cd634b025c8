"""Match fields and set-field actions encoded without Ryu's netaddr round
trips (controller.switch.oxm): byte for byte what Ryu encodes, and values
it does not know left to Ryu."""
import pytest

from controller.compile import pipeline as P
from controller.switch import oxm
from controller.switch.encoder import Encoder, ryu_action, ryu_field
from tests.unit.fakes import FakeDatapath


# what the compilers write: taken by the fast path
COMMON = [('in_port', 7), ('eth_type', 0x86dd), ('eth_dst', '02:00:00:0a:0b:0c'),
          ('arp_sha', 'fa:16:3e:00:00:01'), ('ipv4_src', '10.1.2.3'), ('arp_tpa', '10.0.0.1'),
          ('ipv6_src', 'fe80::ff:fea6:1'), ('ipv6_nd_target', '2001:db8::5'),
          ('tunnel_id', 10001), ('ct_zone', 12), ('ct_mark', 3), (P.REG_NETWORK, 7),
          ('ct_state', (0x21, 0x23)), ('ipv4_dst', ('10.9.8.7', '255.255.0.0')),
          ('vlan_vid', 0x1000 | 10), ('conj_id', 5)]
# anything else: left to Ryu
ODD = [('eth_dst', '02-00-00-0a-0b-0c'), ('ipv4_src', '10.0.0.0/8'),
       ('ipv6_src', '2001:0db8::1'), ('ipv6_src', 'FE80::1'), ('tunnel_id', 1 << 64),
       ('in_port', -1), ('in_port', True)]


@pytest.mark.parametrize('name,value', COMMON)
def test_a_common_field_is_encoded_without_ryu_as_ryu_does(name, value):
    ofp = FakeDatapath(1).ofproto
    assert oxm.match_field(ofp, name, value) == ryu_field(ofp, name, value)


@pytest.mark.parametrize('name,value', [(n, v) for n, v in COMMON if not isinstance(v, tuple)])
def test_a_common_set_field_is_encoded_without_ryu_as_ryu_does(name, value):
    dp = FakeDatapath(1)
    assert oxm.set_field(dp.ofproto, name, value) == ryu_action(dp, ('set_field', name, value))


@pytest.mark.parametrize('name,value', ODD)
def test_a_value_written_otherwise_is_left_to_ryu(name, value):
    dp = FakeDatapath(1)
    assert oxm.match_field(dp.ofproto, name, value) is None
    assert oxm.set_field(dp.ofproto, name, value) is None
    if name != 'in_port' or value is True:      # Ryu refuses -1 itself
        assert Encoder._field(dp, name, value) == ryu_field(dp.ofproto, name, value)
