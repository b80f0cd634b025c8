"""Flow compilers: pure functions ``(inventory, host) -> [Flow]``, one module per
feature. :func:`compile_host` is the union for one switch."""
from controller.compilers import base, firewall, segmentation, tor


def compile_host(inv, host):
    if host.role == 'tor':
        return tor.compile_tor(inv, host)
    return (list(base.compile_defaults()) + segmentation.compile_hypervisor(inv, host)
            + firewall.compile_firewall(inv, host))
