"""The REST API's HTTP(S) server: eventlet's WSGI server with the limits that keep
one client from stalling it.

- every socket read and write times out (``socket_timeout``), so connections
  that never finish their headers are closed instead of held forever;
- the pool of handlers is large and the process may open that many files, so
  a thousand idle connections leave room for the ones that do something;
- request lines are bounded by eventlet (``url_length_limit``); bodies, JSON
  depth and paths by :mod:`controller.api.rest`.
"""
import logging
import resource
import ssl

import eventlet
import eventlet.wsgi

LOG = logging.getLogger(__name__)
MAX_CONNECTIONS = 4096
URL_LENGTH_LIMIT = 8192


class _QuietLog:
    """eventlet logs each request to its log object: keep that at debug level."""

    def write(self, text):
        LOG.debug(text.rstrip())

    def info(self, msg, *args):
        LOG.debug(msg, *args)

    debug = error = info


def raise_open_files_limit(wanted=MAX_CONNECTIONS + 1024):
    """Lift the soft limit on open files towards ``wanted`` (never past the hard
    limit): 1,024 by default, fewer than the connections we accept."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def listen(address, certfile='', keyfile=''):
    """A listening socket; with a certificate and key, HTTPS only."""
    sock = eventlet.listen(address, backlog=1024)
    if certfile:
        sock = eventlet.wrap_ssl(sock, certfile=certfile, keyfile=keyfile or None,
                                 server_side=True, ssl_version=ssl.PROTOCOL_TLS_SERVER)
    return sock


def serve(sock, app, socket_timeout):
    """Serve ``app`` on ``sock`` forever (run it in its own green thread)."""
    raise_open_files_limit()
    eventlet.wsgi.server(sock, app, log=_QuietLog(), max_size=MAX_CONNECTIONS,
                         socket_timeout=socket_timeout, url_length_limit=URL_LENGTH_LIMIT,
                         log_output=False, debug=False)
