"""Parse ``ovs-appctl dpctl/dump-conntrack`` output into plain dictionaries.

One entry per line, e.g.::

    tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=39372,dport=9000),reply=(...),id=0,
    zone=1,status=0,mark=417158794,protoinfo=(state_orig=ESTABLISHED,state_reply=...)

Pure functions: tested without a switch.
"""
import re

_GROUP = re.compile(r'(\w+)=\(([^)]*)\)')
_NUMBERS = ('sport', 'dport', 'id', 'type', 'code')


def _pairs(text):
    out = {}
    for item in text.split(','):
        key, sep, value = item.partition('=')
        if sep:
            out[key.strip()] = value.strip()
    return out


def _tuple(text):
    fields = _pairs(text)
    return {k: int(v) if k in _NUMBERS else v for k, v in fields.items()
            if k in ('src', 'dst') + _NUMBERS}


def parse_entry(line):
    """One dump line -> {'proto', 'orig', 'reply', 'zone', 'mark', 'state'}
    (``state``: the TCP state(s) given, else []); None for a line that is not
    an entry."""
    line = line.strip()
    proto, sep, rest = line.partition(',')
    if not sep or not proto.isalnum() or 'orig=(' not in rest:
        return None
    groups = dict(_GROUP.findall(rest))
    scalars = _pairs(_GROUP.sub('', rest))
    info = _pairs(groups.get('protoinfo', ''))
    # one TCP state, or one per side (with -m, or in the kernel's format)
    state = [info[k] for k in ('state', 'state_orig', 'state_reply') if k in info]
    try:
        zone, mark = int(scalars.get('zone', 0)), int(scalars.get('mark', 0), 0)
    except ValueError:
        return None
    return {'proto': proto, 'orig': _tuple(groups.get('orig', '')),
            'reply': _tuple(groups.get('reply', '')), 'zone': zone, 'mark': mark,
            'state': state}


def parse_dump(text):
    """Every entry of a dump (lines that are not entries are skipped)."""
    return [e for e in map(parse_entry, text.splitlines()) if e is not None]
