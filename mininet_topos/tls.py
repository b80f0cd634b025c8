"""A lab certificate authority for the OpenFlow channel, made with ``openssl``.

``vnetsec-dc --tls`` makes one CA per run, inside the run directory, and signs a
certificate for the controller and one per switch: the controller accepts only
switches whose certificate this CA signed, and the switches accept only a
controller it signed (mutual TLS). Private keys are written 0600.
"""
import os
import subprocess

DAYS = '2'          # a lab run lasts minutes; nothing here should outlive it


def _openssl(*args):
    result = subprocess.run(('openssl',) + args, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError('openssl %s failed: %s' % (args[0], result.stderr.strip()))


def _private_key(path):
    # umask 077 for the child: the key file is never readable by others, not even
    # for the moment between writing and a chmod
    old = os.umask(0o077)
    try:
        _openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                 '-out', path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)


class LabCA:
    """A CA in ``directory`` (made 0700): ``ca.pem`` and its key ``ca.key``."""

    def __init__(self, directory, name='vnetsec lab CA'):
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        self.cert, self.key = self.path('ca.pem'), self.path('ca.key')
        _private_key(self.key)
        # Python 3.13's default TLS client context verifies strictly (VERIFY_X509_STRICT):
        # a CA without keyUsage, or a leaf without an authority key id, is refused.
        _openssl('req', '-x509', '-new', '-key', self.key, '-out', self.cert,
                 '-days', DAYS, '-subj', '/CN=%s' % name,
                 '-addext', 'basicConstraints=critical,CA:TRUE',
                 '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
                 '-addext', 'subjectKeyIdentifier=hash')
        self.leaf_extensions = self.path('leaf.ext')
        with open(self.leaf_extensions, 'w') as f:
            f.write('basicConstraints = critical,CA:FALSE\n'
                    'keyUsage = critical,digitalSignature,keyEncipherment,keyAgreement\n'
                    'extendedKeyUsage = serverAuth,clientAuth\n'
                    'subjectKeyIdentifier = hash\n'
                    'authorityKeyIdentifier = keyid\n')

    def path(self, filename):
        return os.path.join(self.dir, filename)

    def credentials(self, name):
        """A new key and a certificate this CA signed for ``name`` (CN): returns
        (key, certificate, CA certificate) paths, all one TLS party needs."""
        key, cert, csr = (self.path(name + ext) for ext in ('.key', '.pem', '.csr'))
        _private_key(key)
        _openssl('req', '-new', '-key', key, '-out', csr, '-subj', '/CN=%s' % name)
        _openssl('x509', '-req', '-in', csr, '-CA', self.cert, '-CAkey', self.key,
                 '-CAcreateserial', '-out', cert, '-days', DAYS,
                 '-extfile', self.leaf_extensions)
        os.remove(csr)
        return key, cert, self.cert
