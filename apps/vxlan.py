"""The VXLAN overlay: the controller fills every hypervisor's MAC-to-VTEP table
(no flood-and-learn), answers ARP locally and replicates broadcast only to the
VTEPs that host the network.

    ryu-manager apps.vxlan [apps.vlan] [apps.firewall]

The app only registers its feature (controller/features/vxlan.py) with the core
all vnetsec apps share (controller/core.py).
"""
from controller.core import Core
from controller.features import vxlan
from controller.ryu_facade import RyuApp


class VxlanApp(RyuApp):
    _CONTEXTS = {'vnetsec': Core}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs['vnetsec'].register(vxlan.FEATURE)
