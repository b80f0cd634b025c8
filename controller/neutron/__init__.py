"""``/v2.0``: Neutron's networking API for what vnetsec does (issue 31), so the
``openstack`` CLI and openstacksdk drive vnetsec. Importing this package mounts
it beside ``/v1`` (``controller.api.MOUNTS``).

- :mod:`.translate`: Neutron's resources <-> vnetsec's records, pure, both ways;
- :mod:`.schemas`: what ``/v2.0`` accepts and answers (pydantic, strict);
- :mod:`.operations`: subnets, and the addresses and MACs ports are given;
- :mod:`.api`: the routes, Neutron's wrappers, filters, errors and documents.

docs/neutron.md lists, field by field, what it supports, ignores and refuses.
"""
from controller import api as _api
from controller.neutron import api

if api not in _api.MOUNTS:
    _api.MOUNTS.append(api)
