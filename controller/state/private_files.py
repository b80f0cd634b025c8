"""Files only the controller's user may read: the generated API token, the
database and the audit log.

They are created ``0600`` from the start (never world-readable for a moment),
never through a symlink an attacker planted, and a generated token is kept
across restarts so clients keep working.
"""
import json
import os
import secrets

MODE = 0o600


def open_private(path, flags):
    """``os.open`` without following a symlink at ``path``, mode 0600 if created."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, MODE)


def ensure_private(path):
    """Create ``path`` empty and 0600 if absent; make an existing one 0600."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        os.fchmod(fd, MODE)
    finally:
        os.close(fd)


def copy_private(source, path):
    """Copy ``source`` to ``path``, 0600, never through a symlink at ``path``
    (a controller's log kept after its run: it names the token's file)."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.fchmod(fd, MODE)                     # also when the file was there before
    with os.fdopen(fd, 'wb') as out, open(source, 'rb') as src:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)


def load_or_create_token(path):
    """The token in ``path``; if there is none, a new random one written there
    atomically (a 0600 temporary file renamed into place)."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        pass
    else:
        with os.fdopen(fd) as f:
            token = f.read().strip()
        if token:
            return token
    token = secrets.token_hex(16)
    tmp = '%s.%s.tmp' % (path, secrets.token_hex(4))
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, 'w') as f:
        f.write(token + '\n')
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return token


class AuditLog:
    """One JSON line per write: time, role, method, path, status."""

    def __init__(self, path):
        self.file = os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), 'a')

    def __call__(self, entry):
        self.file.write(json.dumps(entry, sort_keys=True) + '\n')
        self.file.flush()
