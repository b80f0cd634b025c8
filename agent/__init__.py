"""The hypervisor agent: a small read-only HTTP service beside a hypervisor's
Open vSwitch, answering what only that machine knows and OpenFlow cannot tell
(today: its conntrack entries, read by the controller when a VM moves away).

Standard library only: it runs on every hypervisor and must stay small.
"""
