"""The numbers the pipeline and its compilers share, in one place beside
:mod:`controller.compile.pipeline` (which re-exports them): conntrack state
bits, ethertypes, IP protocol numbers, the reserved OpenFlow port numbers and
the rule marks' space. Nothing else writes one of these numbers."""

# ---- conntrack state bits (ct_state) ---------------------------------------------
CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
CT_NAMES = ((CT_NEW, 'new'), (CT_EST, 'est'), (CT_REL, 'rel'), (CT_RPL, 'rpl'),
            (CT_INV, 'inv'), (CT_TRK, 'trk'))

# ---- ethertypes, ARP operations ---------------------------------------------------
IPV4, ARP, IPV6 = 0x0800, 0x0806, 0x86dd
ARP_REQUEST, ARP_REPLY = 1, 2
ETHERTYPES = {'IPv4': IPV4, 'IPv6': IPV6}      # a rule's ethertype -> eth_type

# ---- IP protocol numbers ----------------------------------------------------------
ICMP, TCP, UDP, SCTP, ICMPV6 = 1, 6, 17, 132, 58

# ---- ICMPv6 types (RFC 4443, 4861, 3810) and DHCPv6 ports (RFC 8415) ------------------
MLD_QUERY, MLD_REPORT, MLD_DONE, MLD2_REPORT = 130, 131, 132, 143
ND_RS, ND_RA, ND_NS, ND_NA, ND_REDIRECT = 133, 134, 135, 136, 137
DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT = 546, 547
ND_OPT_TLL = 2            # the target link-layer address option of an NA
ND_NA_FLAGS_SO = 0x60000000   # an NA's Solicited and Override flags (its 'reserved' word)

# ---- OpenFlow port numbers on br-int ------------------------------------------------
TUNNEL_OFPORT = 4000     # the one flow-based VXLAN port (remote_ip=flow, key=flow)
UPLINK_OFPORT = 4001     # patch port to br-phy: the 802.1Q trunk towards the ToR
TUNNEL_PORT_NAME = 'vxlan0'
UPLINK_PORT_NAME = 'patch-phy'
MIGRATION_OFPORTS = range(2000, 4000)   # reserved for arriving vNICs (planned moves)
OFPORT_MAX = 0xfeff      # highest port number every action we use can carry

# ---- rule marks (ct_mark and conjunction id; controller.state.rule_marks) -------------
MARK_ALLOCATED = 0x80000000     # allocated marks' top bit: never a hashed (31-bit) one
MARK_COUNTER = 'rule_mark'      # the store's counter they come from

# ---- security-group logging (controller.features.firewall_log) ------------------------
# the packet-ins of logged connections are bounded per switch by OpenFlow's controller
# meter (OFPM_CONTROLLER: it meters every packet a switch sends its controllers)
LOG_METER = 0xfffffffe      # OFPM_CONTROLLER (0xfffffffd is the slow path's)
LOG_MAX_LEN = 128               # bytes of a logged packet sent up: its headers
LOG_EVENTS = ('ACCEPT', 'DROP', 'ALL')

# ---- replicas: the stall watchdog (controller.switch.stall_watchdog) -------------------
HEARTBEAT_SECONDS = 0.1     # the event loop stamps a heartbeat this often
STALL_SECONDS = 0.5         # a heartbeat older than this: the replica steps down (see docs)
# ---- replicas: the failure detector (controller.switch.liveness) ---------------------------
# A peer whose OS-thread heartbeat (every HEARTBEAT_SECONDS) is silent this long is
# taken for frozen whole: its lease is revoked. Above STALL_SECONDS, so that a replica
# taken for dead always finds itself stepped down too; 3.6x the longest silence peers saw
# with both cores of a 2-core machine busy (0.167 s: bench.failover --busy 2, 2026-12-07),
# and still a failover well under a second (0.5-0.6 s of silence + a claim round).
LIVENESS_SILENCE_SECONDS = 0.6
# ---- table reads (controller.switch.reconciler) ------------------------------------
# Flow tables read back at once by one controller; the others wait their turn.
# Each read's replies are decoded in the event loop's turns, 200 flows at a time:
# 333 reads at once (a replica taking a third of 1,000 hypervisors over) made
# each turn 0.5-0.9 s. 16 keep a turn near 30 ms; the switches' own dumps overlap.
READS_AT_ONCE = 16
READ_STALE_SECONDS = 10.0   # a read unanswered this long holds no place
