"""The agent's HTTP service.

    python -m agent.server --listen 172.30.250.1:6699 --ovs-ctl RUNDIR/ovs-vswitchd.ctl \
        --token-file FILE [--pidfile FILE]

``GET /v1/conntrack?zone=N`` -> ``{"entries": [...]}`` (see :mod:`agent.conntrack`),
``GET /v1/health`` -> ``{"ok": true}``. Every request needs ``Authorization:
Bearer <token>`` (the token file's content): conntrack tells who talks to whom.
Errors are JSON ``{"error", "field"}`` with a 4xx/5xx status. Read-only: it
never changes the switch.
"""
import argparse
import hmac
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from agent.conntrack import parse_dump

DEFAULT_PORT = 6699
DUMP_TIMEOUT = 5


class Problem(Exception):
    def __init__(self, status, field, message):
        super().__init__(message)
        self.status, self.field = status, field


def conntrack(ovs_ctl, query):
    """The entries of one conntrack zone (``query``: the parsed query string)."""
    values = query.get('zone', [])
    if len(values) != 1 or not values[0].isdigit() or int(values[0]) > 65535:
        raise Problem(400, 'zone', 'zone must be one integer 0-65535')
    try:
        out = subprocess.run(['ovs-appctl', '-t', ovs_ctl, 'dpctl/dump-conntrack',
                              'zone=%d' % int(values[0])], capture_output=True, text=True,
                             timeout=DUMP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Problem(503, 'ovs', 'Open vSwitch did not answer: %s' % e)
    if out.returncode:
        raise Problem(503, 'ovs', 'Open vSwitch refused the dump: %s' % out.stderr.strip())
    return {'entries': parse_dump(out.stdout)}


def handler_class(ovs_ctl, token):
    routes = {'/v1/conntrack': lambda query: conntrack(ovs_ctl, query),
              '/v1/health': lambda query: {'ok': True}}

    class Handler(BaseHTTPRequestHandler):
        timeout = 10            # seconds a client may take: no connection held open for ever

        def do_GET(self):
            url = urlsplit(self.path)
            try:
                given = self.headers.get('Authorization', '')
                if not hmac.compare_digest(given.encode(), ('Bearer ' + token).encode()):
                    raise Problem(401, 'Authorization', 'a valid bearer token is required')
                if url.path not in routes:
                    raise Problem(404, 'path', 'no such resource: %s' % url.path)
                status, body = 200, routes[url.path](parse_qs(url.query))
            except Problem as p:
                status, body = p.status, {'error': str(p), 'field': p.field}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):       # quiet: one line per request is noise
            pass

    return Handler


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--listen', required=True, help='IP:PORT (the management address)')
    p.add_argument('--ovs-ctl', required=True, help="ovs-vswitchd's unixctl socket")
    p.add_argument('--token-file', required=True)
    p.add_argument('--pidfile')
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(':')
    with open(args.token_file) as f:
        token = f.read().strip()
    if not token:
        p.error('--token-file: the file is empty')
    server = ThreadingHTTPServer((host, int(port)), handler_class(args.ovs_ctl, token))
    if args.pidfile:
        with open(args.pidfile, 'w') as f:
            f.write('%d\n' % os.getpid())
    server.serve_forever()


if __name__ == '__main__':
    main()
