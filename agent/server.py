"""The agent's HTTP service.

    python -m agent.server --listen 172.30.250.1:6699 --ovs-ctl RUNDIR/ovs-vswitchd.ctl \
        --token-file FILE [--pidfile FILE] [--cert PEM --key PEM --ca PEM]

``GET /v1/conntrack?zone=N`` -> ``{"entries": [...]}`` (see :mod:`agent.conntrack`),
``GET /v1/health`` -> ``{"ok": true}``. Every request needs ``Authorization:
Bearer <token>`` (the token file's content: this hypervisor's own agent
token, see :mod:`controller.switch.agent_client`, never the API's): conntrack tells who
talks to whom. With ``--cert``/``--key``/``--ca`` it serves HTTPS only and
accepts only clients presenting a certificate that CA signed (mutual TLS).
Errors are JSON ``{"error", "field"}`` with a 4xx/5xx status. Read-only: it
never changes the switch.
"""
import argparse
import hmac
import json
import os
import ssl
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


def server_tls(cert, key, ca):
    """Serve TLS 1.2+ and require a client certificate that ``ca`` signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class TlsServer(ThreadingHTTPServer):
    """The handshake runs in the request's own thread (a client that never
    finishes it holds only that thread, for the handler's timeout)."""

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return                          # no certificate the CA signed: nothing said
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--listen', required=True, help='IP:PORT (the management address)')
    p.add_argument('--ovs-ctl', required=True, help="ovs-vswitchd's unixctl socket")
    p.add_argument('--token-file', required=True)
    p.add_argument('--pidfile')
    p.add_argument('--cert', help='serve HTTPS with this certificate (PEM)')
    p.add_argument('--key', help="the certificate's key (PEM)")
    p.add_argument('--ca', help='accept only clients with a certificate this CA signed')
    args = p.parse_args(argv)
    tls = [args.cert, args.key, args.ca]
    if any(tls) and not all(tls):
        p.error('--cert, --key and --ca go together')
    host, _, port = args.listen.rpartition(':')
    with open(args.token_file) as f:
        token = f.read().strip()
    if not token:
        p.error('--token-file: the file is empty')
    handler = handler_class(args.ovs_ctl, token)
    if all(tls):
        server = TlsServer((host, int(port)), handler, server_tls(*tls))
    else:
        server = ThreadingHTTPServer((host, int(port)), handler)
    if args.pidfile:
        with open(args.pidfile, 'w') as f:
            f.write('%d\n' % os.getpid())
    server.serve_forever()


if __name__ == '__main__':
    main()
