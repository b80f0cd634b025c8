"""The controller's configuration: the ``[vnetsec]`` options (also
``VNETSEC_<OPTION>`` environment variables, for containers), and what is made
from them before anything runs: the store, the API token, the agents' TLS."""
import logging
import os

from controller.state import environment
from controller.switch import agent_client
from controller.state.private_files import load_or_create_token
from controller.ryu_facade import CONF, cfg
from controller.state.store import SqliteStore

LOG = logging.getLogger('vnetsec')

OPTIONS = [
    cfg.StrOpt('store', default='sqlite',
               help='where the desired state lives: "sqlite" (the file db_path) or '
                    'etcd://HOST:PORT[,HOST:PORT...] (shared by several controllers; '
                    'etcds://...: over HTTPS)'),
    cfg.StrOpt('etcd_ca', default='',
               help="with etcds://: the CA (PEM) that signed the etcd members' "
                    "certificates (default: the system's CAs)"),
    cfg.StrOpt('etcd_cert', default='',
               help='with etcds://: our client certificate (PEM) for etcd, if it asks one'),
    cfg.StrOpt('etcd_key', default='', help="the client certificate's private key"),
    cfg.StrOpt('etcd_user', default='',
               help="etcd's authentication: the user to log in as (none: no login)"),
    cfg.StrOpt('etcd_password_file', default='',
               help="a file holding etcd_user's password (its first line)"),
    cfg.StrOpt('db_path', default='/var/lib/vnetsec/vnetsec.db',
               help='SQLite file holding the desired state (created 0600); with etcd, '
                    'the token and audit log files are still named after it'),
    cfg.StrOpt('db_synchronous', default='FULL', choices=['FULL', 'NORMAL', 'EXTRA'],
               help='SQLite synchronous mode: FULL survives power loss'),
    cfg.StrOpt('api_host', default='127.0.0.1', help='REST API listen address'),
    cfg.IntOpt('api_port', default=8080, help='REST API port'),
    cfg.StrOpt('api_token', default='', secret=True,
               help='admin Bearer token (reads and writes); else $VNETSEC_API_TOKEN, else '
                    'one generated once and kept in <db_path>.token (0600)'),
    cfg.StrOpt('api_reader_token', default='', secret=True,
               help='reader Bearer token (reads only); else $VNETSEC_API_READER_TOKEN'),
    cfg.BoolOpt('api_open_reads', default=False, help='let reads in without a token'),
    cfg.FloatOpt('api_socket_timeout', default=10.0,
                 help='seconds a client may take for each read or write of a request'),
    cfg.StrOpt('api_cert', default='', help='certificate (PEM): serve the API over HTTPS'),
    cfg.StrOpt('api_key', default='', secret=True, help="the certificate's private key"),
    cfg.StrOpt('audit_log', default='',
               help='JSON lines, one per write (default <db_path>.audit.log)'),
    cfg.StrOpt('vlan_pool', default='100-4094', help='VLAN ids allocated when none given'),
    cfg.StrOpt('vni_pool', default='5000-16777215', help='VNIs allocated when none given'),
    cfg.BoolOpt('carry_sessions', default=True,
                help="a migrated VM's established sessions are carried to its destination "
                     "(read from the source's conntrack through its agent); false: they "
                     'are not'),
    cfg.IntOpt('session_grace', default=30,
               help="seconds a carried session's admission at the destination stays "
                    'without a packet needing it (an idle timeout)'),
    cfg.StrOpt('agent_secret', default='', secret=True,
               help="the secret each hypervisor agent's own token is derived from (an "
                    'HMAC of its host name, given by GET /v1/hosts/NAME/agent-credential); '
                    'default: derived from the API token, so replicas agree'),
    cfg.BoolOpt('agent_tls', default=False,
                help='speak HTTPS to the hypervisor agents, presenting the OpenFlow TLS '
                     'certificate (ctl_privkey, ctl_cert) and accepting only agents whose '
                     'certificate ca_certs signed (mutual TLS)'),
    cfg.IntOpt('lease_ttl', default=2, min=1,
               help='with etcd: seconds a replica that stops renewing its lease keeps its '
                    'switches (etcd raises it to its own minimum, 2 s with its defaults)'),
    cfg.StrOpt('replica_name', default='',
               help='with etcd: this replica\'s name among the controllers sharing the '
                    'store (default HOSTNAME:API_PORT)'),
    cfg.FloatOpt('stats_interval', default=5.0,
                 help='seconds between background readings of the per-rule counters '
                      'that /metrics serves (0: never)'),
    cfg.FloatOpt('wait_timeout', default=10.0,
                 help='seconds a write with ?wait=applied waits for its switches to '
                      'confirm its flows'),
    cfg.FloatOpt('switch_dial_interval', default=1.0,
                 help='seconds between attempts to reach a switch that listens for its '
                      'controllers (its host record names a switch_address) while it '
                      'does not answer'),
    cfg.IntOpt('log_rate', default=100, min=1,
               help='security-group logging: packets per second each switch may send '
                    'the controllers (its OpenFlow controller meter); what it holds back '
                    'is counted in the logs and /metrics'),
    cfg.IntOpt('log_burst', default=0, min=0,
               help='packets the controller meter lets through at once (0: log_rate)'),
    cfg.StrOpt('log_dir', default='',
               help='directory of the security-group logs\' files (default: logs/ beside '
                    'db_path)'),
]
CONF.register_opts(OPTIONS, group='vnetsec')
# OpenFlow only on loopback unless configured (Ryu's own default is every interface)
CONF.set_default('ofp_listen_host', '127.0.0.1')
environment.apply(CONF, OPTIONS)    # VNETSEC_STORE=..., VNETSEC_OFP_PORT=...: for containers


def open_store(conf):
    """The store the configuration names (the directory of ``db_path`` made:
    the token and the audit log live beside it, with etcd too)."""
    if os.path.dirname(conf.db_path):
        os.makedirs(os.path.dirname(conf.db_path), exist_ok=True)
    if conf.store != 'sqlite':
        from controller.state.etcd_store import EtcdStore
        password = ''
        if conf.etcd_password_file:
            with open(conf.etcd_password_file) as f:
                password = f.readline().strip()
        return EtcdStore.from_url(conf.store, conf.etcd_ca, conf.etcd_cert, conf.etcd_key,
                                  conf.etcd_user, password)
    return SqliteStore(conf.db_path, conf.db_synchronous)


def api_token(conf):
    token = conf.api_token or os.environ.get('VNETSEC_API_TOKEN', '')
    if not token:
        path = conf.db_path + '.token'
        token = load_or_create_token(path)
        LOG.info('no API token configured: using the one kept in %s', path)
    return token


def agents_tls(conf):
    """The TLS context the controller asks agents with (None: plain HTTP)."""
    if not conf.agent_tls:
        return None
    if not (CONF.ctl_privkey and CONF.ctl_cert and CONF.ca_certs):
        raise ValueError('agent_tls needs the OpenFlow TLS credentials: ctl_privkey, '
                         'ctl_cert and ca_certs')
    return agent_client.tls_context(CONF.ctl_privkey, CONF.ctl_cert, CONF.ca_certs)
