"""``/v2.0``: Neutron's networking API for what vnetsec does (issue 31), so the
``openstack`` CLI and openstacksdk drive vnetsec. Importing this package mounts
it beside ``/v1`` (``controller.api.rest.MOUNTS``).

- :mod:`.translate`: Neutron's resources <-> vnetsec's records, pure, both ways;
- :mod:`.schemas`: what ``/v2.0`` accepts and answers (pydantic, strict);
- :mod:`.operations`: subnets, and the addresses and MACs ports are given;
- :mod:`.api`: Neutron's wrappers, filters, errors, the version and OpenAPI
  documents; :mod:`.resources` (networks, subnets, ports) and
  :mod:`.security_groups`: the routes.

docs/neutron.md lists, field by field, what it supports, ignores and refuses.
"""
from controller.api import rest as _rest
from controller.api.neutron import api, logs, resources, security_groups  # noqa: F401 - routes

if api not in _rest.MOUNTS:
    _rest.MOUNTS.append(api)
