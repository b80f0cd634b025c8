"""The emulated data center: Mininet node types, topologies, CLI, ``vnetsec-dc``."""
