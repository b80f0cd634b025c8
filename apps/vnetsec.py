"""Everything: ``ryu-manager apps.vnetsec`` is ``ryu-manager apps.vlan apps.vxlan
apps.firewall`` (Ryu loads the apps this module requires)."""
from controller.ryu_facade import RyuApp

_REQUIRED_APP = ['apps.vlan', 'apps.vxlan', 'apps.firewall']


class VnetsecApp(RyuApp):
    """Nothing of its own: the three apps do the work."""
