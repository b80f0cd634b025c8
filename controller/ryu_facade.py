"""Every ``ryu`` import of the project, in one place.

Apps and tests import the framework from here, so that the maintained fork
(os-ken) can replace Ryu by changing this module only.
"""
from ryu import cfg
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER,
                                    set_ev_cls)
from ryu.lib import hub
from ryu.ofproto import ofproto_parser as wire  # decoding raw OpenFlow bytes
from ryu.ofproto import ofproto_v1_4, ofproto_v1_4_parser

RyuApp = app_manager.RyuApp
CONF = cfg.CONF
OFP_VERSION = ofproto_v1_4.OFP_VERSION
ofproto = ofproto_v1_4
parser = ofproto_v1_4_parser

__all__ = ['CONF', 'CONFIG_DISPATCHER', 'DEAD_DISPATCHER', 'MAIN_DISPATCHER', 'OFP_VERSION',
           'RyuApp', 'cfg', 'hub', 'ofp_event', 'ofproto', 'parser', 'set_ev_cls', 'wire']
