"""Configuration from environment variables, for containers (docker-compose.yml).

Every ``[vnetsec]`` option can be given as ``VNETSEC_<OPTION>`` (e.g.
``VNETSEC_STORE=etcd://127.0.0.1:2379``, ``VNETSEC_API_PORT=8081``), and Ryu's
OpenFlow listener as ``VNETSEC_OFP_HOST`` / ``VNETSEC_OFP_PORT``; OpenFlow over
mutual TLS with ``VNETSEC_OFP_CERT``, ``VNETSEC_OFP_KEY`` and ``VNETSEC_OFP_CA``
(Ryu's ``ctl_cert``, ``ctl_privkey``, ``ca_certs``: with them set, the port is TLS
only). HTTPS for the REST API is ``VNETSEC_API_CERT`` / ``VNETSEC_API_KEY``. A
variable sets the option's default: a config file (``ryu-manager --config-file``)
still wins. An empty variable counts as unset.
``VNETSEC_API_TOKEN`` and ``VNETSEC_API_READER_TOKEN`` are read where the tokens
are chosen (:func:`controller.config.api_token`); they work here too.
"""
import os

# Ryu's own options (group DEFAULT): variable -> (options, type). Ryu opens its TLS
# port instead of its TCP one once a certificate and key are set: one port either way.
RYU_OPTIONS = {'VNETSEC_OFP_HOST': (('ofp_listen_host',), str),
               'VNETSEC_OFP_PORT': (('ofp_tcp_listen_port', 'ofp_ssl_listen_port'), int),
               'VNETSEC_OFP_CERT': (('ctl_cert',), str),
               'VNETSEC_OFP_KEY': (('ctl_privkey',), str),
               'VNETSEC_OFP_CA': (('ca_certs',), str)}


def apply(conf, options, environ=None):
    """Set defaults of ``conf`` (oslo.config) from the environment: ``options``
    are the [vnetsec] group's. Returns {variable: option} of what was taken. A
    bad value raises ValueError naming the variable."""
    environ = os.environ if environ is None else environ
    wanted = {'VNETSEC_' + opt.dest.upper(): ((opt.dest,), opt.type, 'vnetsec')
              for opt in options}
    wanted.update({var: (names, kind, None) for var, (names, kind) in RYU_OPTIONS.items()})
    taken = {}
    for var, (names, kind, group) in sorted(wanted.items()):
        if not environ.get(var):
            continue                # unset or empty (compose's ${VAR:-}): the default
        try:
            value = kind(environ[var])
        except ValueError as e:
            raise ValueError('%s: %s' % (var, e)) from None
        for name in names:
            conf.set_default(name, value, group=group)
        taken[var] = names[0]
    return taken
