#!/bin/bash
# What one flow-table change costs ovs-vswitchd, by the number of ports on its
# bridge: a private ovsdb-server + ovs-vswitchd (dummy datapath, its own run
# directory, stopped by the PIDs it wrote) per port count; 100 one-flow bundles
# sent one at a time (each an ovs-ofctl call, its connection included); the
# vswitchd's CPU time per bundle, its idle CPU over the same time beside it.
#
#   bench/ovs_change_cost.sh [PORTS ...]      (default: 2 100 400; root)
#
# Why: on real OVS a VLAN bind in a 1,000-port data center waits mostly for
# eleven switches to apply a one-flow bundle each (bench/README.md).
set -eu
counts=${*:-2 100 400}
d=""
stop() {        # only what this run started: by the PIDs in its own directory
    [ -n "$d" ] || return 0
    for f in vs ovsdb; do
        if [ -f "$d/$f.pid" ]; then kill "$(cat "$d/$f.pid")" 2>/dev/null || true; fi
    done
    sleep 1
    rm -rf "$d"
    d=""
}
trap stop EXIT
run() {
    local n=$1
    d=$(mktemp -d /tmp/vnetsec-ovscost.XXXXXX)
    export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --pidfile="$d/ovsdb.pid" \
        --unixctl="$d/ovsdb.ctl" --detach --no-chdir --log-file="$d/ovsdb.log" 2>/dev/null
    local vsctl="ovs-vsctl --db=unix:$d/db.sock"
    $vsctl --no-wait init
    ovs-vswitchd "unix:$d/db.sock" --enable-dummy=override --pidfile="$d/vs.pid" \
        --unixctl="$d/vs.ctl" --detach --no-chdir --log-file="$d/vs.log" 2>/dev/null
    $vsctl add-br br0 -- set bridge br0 datapath_type=dummy fail-mode=secure
    local args="" i
    for i in $(seq 1 "$n"); do
        args="$args -- add-port br0 p$i -- set interface p$i type=dummy ofport_request=$i"
    done
    $vsctl $args
    for i in $(seq 1 1000); do
        echo "table=40,priority=30,reg5=1,dl_dst=02:00:00:00:$((i / 256)):$((i % 256)),actions=drop"
    done > "$d/flows"
    ovs-ofctl -O OpenFlow14 add-flows "unix:$d/br0.mgmt" "$d/flows"
    sleep 1
    local pid ticks c0 c1 i0 i1 t0 t1
    pid=$(cat "$d/vs.pid")
    ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    c0=$(ticks); t0=$(date +%s.%N)
    for i in $(seq 1 100); do
        ovs-ofctl -O OpenFlow14 --bundle add-flow "unix:$d/br0.mgmt" \
            "table=50,priority=75,ip,nw_src=10.9.0.$i,actions=drop"
    done
    c1=$(ticks); t1=$(date +%s.%N)
    i0=$(ticks); sleep 2; i1=$(ticks)
    awk -v n="$n" -v c="$((c1 - c0))" -v i="$((i1 - i0))" -v t="$(echo "$t1 - $t0" | bc)" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {
            printf "  %4d ports: %5.1f ms of vswitchd CPU per one-flow bundle (idle: %4.1f ms of it over the same time)\n",
                   n, c * 1000 / hz / 100, i * 1000 / hz / 2 * t / 100 }'
    stop
}
echo "ovs-vswitchd CPU per flow-table change, by ports on the bridge (100 bundles each;"
echo "each bundle comes on its own ovs-ofctl connection, whose cost is in every row:"
echo "compare the rows)"
for n in $counts; do run "$n"; done
