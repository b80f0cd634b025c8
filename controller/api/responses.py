"""What the REST API answers, declared once (pydantic): the requests'
declarations (:mod:`controller.state.schemas`) plus what the controller adds, from
which the OpenAPI document's responses are generated."""
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from controller.state.host_schemas import HostCreate
from controller.state.schemas import (Name, NetworkCreate, PortCreate,
                                RuleCreate, SegmentationId)


class Out(BaseModel):
    model_config = ConfigDict(extra='allow')


class HostOut(HostCreate, Out):
    vlans: list[int] = []
    ports: list[dict] = []
    tor: dict = {}
    allowed_vlans: dict[str, list[int]] = {}
    error: str = ''


class NetworkOut(NetworkCreate, Out):
    id: str
    segmentation_id: SegmentationId
    nid: int


class PortOut(PortCreate, Out):
    id: str
    name: Name
    ips: list[str]
    host: str
    security_groups: list[str]
    port_security_enabled: bool
    allowed_address_pairs: list[dict]
    bound_host: str
    ofport: int
    migrating_to: str
    migrating_ofport: int


class AgentCredential(Out):
    host: str
    token: str = Field(description="what the host's agent accepts as "
                                   "'Authorization: Bearer <token>'")


class RuleStats(Out):
    packets: int
    bytes: int


class RuleOut(RuleCreate, Out):
    id: str
    mark: int = Field(description="the rule's own ct_mark and conjunction id on the "
                                  "switches, never given to another rule")
    stats: Optional[RuleStats] = None


class GroupOut(Out):
    id: str
    name: Name
    description: str
    zone: str
    stateful: bool
    rules: list[RuleOut]


class Mappings(Out):
    network: str
    kind: str
    segmentation_id: int
    hosts: dict[str, dict[str, str]]


class SwitchStatus(Out):
    host: Optional[str]
    synced: bool
    failing: Optional[str] = None
    waiting: Optional[str] = Field(None, description=(
        'what keeps the switch from being synced by this controller: not its master, '
        'its flow table being read, a reconcile, a bundle\'s commit'))
    compiled: Optional[bool] = Field(None, description=(
        'this controller holds the switch\'s compiled flows (with replicas: only '
        'where it is master)'))


class Status(Out):
    switches: dict[str, SwitchStatus]
    idle: bool
    apps: list[str] = []
    reconciler: dict[str, float] = Field({}, description=(
        'cumulative: bundles and flow mods sent; seconds spent compiling, diffing and '
        'encoding, writing to the switches'))


class Health(BaseModel):
    model_config = ConfigDict(extra='forbid')
    status: Literal['ok']


class CompiledFlow(Out):
    cookie: str
    table: int
    priority: int
    owner: str
    ofctl: str


class HostFlows(Out):
    host: str
    flows: list[CompiledFlow]


class Error(BaseModel):
    class Detail(BaseModel):
        code: int
        message: str
        field: Optional[str]
    error: Detail


class TraceStep(Out):
    host: str
    table: Optional[int]
    table_name: str
    priority: Optional[str]
    flow: Optional[str]
    says: str


class TraceOut(Out):
    source: str
    destination: Optional[str]
    protocol: str
    state: str
    verdict: Literal['allowed', 'dropped', 'answered']
    summary: str
    delivered_to: list[str]
    steps: list[TraceStep]
    # a drop a firewall log records: its logs and the recent records of such packets
    logged: Optional[dict] = None


class View(Out):
    hosts: list[dict]
    networks: list[dict]
    ports: list[dict]
    groups: list[dict]
    idle: bool
    events: list[dict]
    denials: dict[str, list[dict]] = {}     # VM -> its recent refused connections, logged
