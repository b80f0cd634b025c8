"""VLAN tagging: each VM's frames carry its network's VID on the hypervisor's
uplink, and the ToRs admit only the VLANs behind each port.

    ryu-manager apps.vlan [apps.vxlan] [apps.firewall]

The app only registers its feature (controller/features/vlan.py) with the core
all vnetsec apps share (controller/core.py): the core's store, API, reconciler
and switch connections serve it, and its flows go into the same bundles.
"""
from controller.core import Core
from controller.features import vlan
from controller.ryu_facade import RyuApp


class VlanApp(RyuApp):
    _CONTEXTS = {'vnetsec': Core}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs['vnetsec'].register(vlan.FEATURE)
