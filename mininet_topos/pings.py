"""Every VM pings every other, all sources at once: the reachability matrix
the CLI prints (``pingall6``) and the integration tests assert."""


def ping_matrix(vms, address):
    """{(src, dst) names that got a reply}: one short ping per pair to
    ``address(vm)`` (an IPv4 or IPv6 address), all sources in parallel."""
    for src in vms:
        targets = ' '.join('%s,%s' % (d.name, address(d)) for d in vms if d is not src)
        src.sendCmd('for t in %s; do n=${t%%%%,*}; ip=${t#*,}; '
                    '( ping -c2 -i0.2 -W1 -q $ip >/dev/null && echo OK $n ) & done; wait'
                    % targets)
    ok = set()
    for src in vms:
        for line in src.waitOutput().splitlines():
            if line.startswith('OK '):
                ok.add((src.name, line.split()[1]))
    return ok
