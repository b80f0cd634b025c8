"""The OpenFlow pipeline, declared once: tables, registers, cookies, priorities,
fixed port numbers. Nothing else in the project hard-codes one of these numbers.
"""

# ---- br-int of every hypervisor -------------------------------------------
CLASSIFY = 0        # which vNIC / tunnel / uplink VLAN a frame came from -> registers
PORT_SECURITY = 10  # anti-spoofing (firewall)
EGRESS_ACL = 20     # rules for traffic leaving a VM (firewall)
ARP_RESPONDER = 30  # answers ARP for known addresses locally (overlay)
L2_LOOKUP = 40      # dst MAC -> local vNIC, remote VTEP or VLAN uplink; flooding
INGRESS_ACL = 50    # rules for traffic entering a VM (firewall), then output

HV_TABLES = (CLASSIFY, PORT_SECURITY, EGRESS_ACL, ARP_RESPONDER, L2_LOOKUP, INGRESS_ACL)

# ---- ToR switches ----------------------------------------------------------
TOR_ADMIT = 0       # per-port allowed VLANs; untagged underlay -> NORMAL
TOR_L2 = 10         # (VID, dst MAC) -> port; broadcast -> ports allowed for the VID

# ---- registers (Nicira extension fields) -----------------------------------
REG_NETWORK = 'reg5'     # local number (Network.nid) of the frame's network
REG_FROM_REMOTE = 'reg4' # 1 when the frame came from the tunnel or the VLAN uplink
REG_OUT_PORT = 'reg7'    # the local vNIC a frame is being delivered to
REG_ZONE = 'reg6'        # the conntrack zone of the vNIC whose ACL is running

# ---- fixed OpenFlow port numbers on br-int ---------------------------------
TUNNEL_OFPORT = 4000     # the one flow-based VXLAN port (remote_ip=flow, key=flow)
UPLINK_OFPORT = 4001     # patch port to br-phy: the 802.1Q trunk towards the ToR
TUNNEL_PORT_NAME = 'vxlan0'
UPLINK_PORT_NAME = 'patch-phy'

# ---- cookies: the top byte names the owner, the rest is a hash of the flow ---
COOKIE_OWNER_SHIFT = 56
OWNERS = {'base': 0x01, 'segmentation': 0x02, 'overlay': 0x03, 'firewall': 0x04,
          'tor': 0x05}

# ---- priorities ------------------------------------------------------------
PRIO_DEFAULT = 0
PRIO_FLOOD = 10
PRIO_UNICAST = 20
PRIO_ARRIVING = 25   # a VM migrating here: its MAC, from the tunnel, to its reserved port
PRIO_MATCH = 30
PRIO_ARP_REPLY = 40
