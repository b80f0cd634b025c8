"""The per-vNIC stateful firewall: security groups compiled into every vNIC's
ingress and egress tables, anti-spoofing, default deny; the rules move with the
VM when it migrates. Adds the /v1/security-groups routes.

    ryu-manager apps.vlan apps.vxlan apps.firewall

The app only registers its feature (controller/features/firewall.py) with the
core all vnetsec apps share (controller/core.py). Without it, ports are not
filtered and no firewall flow or cookie exists on any switch. A migrated VM's
sessions are carried by the core (controller/features/firewall_sessions.py; ``[vnetsec]
carry_sessions = false`` turns that off).
"""
from controller.core import Core
from controller.features import firewall
from controller.ryu_facade import RyuApp


class FirewallApp(RyuApp):
    _CONTEXTS = {'vnetsec': Core}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs['vnetsec'].register(firewall.FEATURE)
