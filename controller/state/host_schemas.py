"""What the REST API accepts for hosts (the switches: hypervisors and ToRs),
declared as :mod:`controller.state.schemas` declares the rest (pydantic,
strict, errors naming the field), kept apart from the ports' and groups'."""
from typing import Annotated, Literal, Optional

import pydantic
from pydantic import ConfigDict, Field

from controller.state.schemas import _OCTET, _UNICAST_FIRST, Body, Name, OfPort, fail

Dpid = Annotated[int, Field(ge=1, le=2 ** 64 - 1)]
Rack = Annotated[int, Field(ge=1, le=65535)]
UplinkName = Annotated[str, Field(pattern=r'^(tor|hv:[A-Za-z0-9_.-]{1,64}|rack:[1-9][0-9]{0,4})$')]
Uplinks = Annotated[dict[UplinkName, OfPort], Field(max_length=1024)]
VtepIp = Annotated[str, Field(pattern=r'^(%s(\.%s){3})?$' % (_UNICAST_FIRST, _OCTET), max_length=15)]
_PORT = r'([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])'
# IP:PORT (a switch that listens for its controllers, a hypervisor's agent)
Address = Annotated[str, Field(pattern=r'^(%s(\.%s){3}:%s)?$' % (_OCTET, _OCTET, _PORT),
                               max_length=21)]


# ---- hosts --------------------------------------------------------------------
class HostFields(Body):
    model_config = ConfigDict(json_schema_extra={   # what each role needs, for schema readers
        'if': {'properties': {'role': {'const': 'tor'}}, 'required': ['role']},
        'then': {'properties': {'uplinks': {'propertyNames': {
            'pattern': r'^(hv:[A-Za-z0-9_.-]{1,64}|rack:[1-9][0-9]{0,4})$'}}}},
        'else': {'required': ['vtep_ip'], 'properties': {
            'vtep_ip': {'minLength': 7}, 'uplinks': {'propertyNames': {'const': 'tor'}}}}})
    dpid: Dpid
    role: Literal['hypervisor', 'tor'] = 'hypervisor'
    rack: Rack = 1
    vtep_ip: VtepIp = ''
    uplinks: Uplinks = {}
    agent: Address = ''             # hypervisors: where their agent answers
    switch_address: Address = ''

    @pydantic.model_validator(mode='after')
    def _role_fits(self):
        if self.role == 'hypervisor' and not self.vtep_ip:
            fail('vtep_ip', 'a hypervisor needs its vtep_ip (the underlay '
                                  'address of its VTEP)')
        wrong = [k for k in self.uplinks if (k == 'tor') != (self.role == 'hypervisor')]
        if wrong:
            fail('uplinks', 'uplink %r does not fit role %s: a hypervisor '
                                  'names "tor", a ToR names "hv:<name>" and "rack:<n>"'
                                  % (wrong[0], self.role))
        return self


class HostCreate(HostFields):
    name: Name


class HostPatch(Body):
    dpid: Optional[Dpid] = None
    role: Optional[Literal['hypervisor', 'tor']] = None
    rack: Optional[Rack] = None
    vtep_ip: Optional[VtepIp] = None
    uplinks: Optional[Uplinks] = None
    agent: Optional[Address] = None
    switch_address: Optional[Address] = None
