"""``vnetsec``: parse, call, print, and an exit code a script can trust
(:data:`controller.cli.parser.DESCRIPTION` lists them). The lab shell runs
its commands through :func:`run` with its own session and output."""
import json
import os
import sys

from controller.cli.client import ApiError, Client
from controller.cli.parser import ShowHelp, build
from controller.cli.verbs import Session
from controller.cli.words import UsageError

DEFAULT_API = 'http://127.0.0.1:8080'
OK, USAGE, REFUSED, NOT_FOUND, DENIED, UNREACHABLE, FAILED = 0, 2, 3, 4, 5, 6, 7


def exit_code(error):
    """The exit code of an ApiError."""
    if error.status == 404:
        return NOT_FOUND
    if error.status in (401, 403):
        return DENIED
    return REFUSED if 400 <= error.status < 500 else FAILED


def run(argv, session, out, err=None):
    """Run one command (its words, without the program name); returns its exit
    code. ``session``: a :class:`Session`, or a function of the parsed
    arguments making one; ``out``/``err``: where the answer and errors go."""
    err = err or out
    try:
        args = build().parse_args(argv)
        if getattr(args, 'func', None) is None:
            raise UsageError('a command is needed: network, port, sg, log, trace, status, '
                             'controllers or events (-h for help)')
        if callable(session) and not isinstance(session, Session):
            session = session(args)
        if args.wait:
            session.wait = True
        result = args.func(session, args)
    except ShowHelp as shown:
        out(str(shown))
        return OK
    except UsageError as e:
        err('error: %s\n' % e)
        return e.exit_code
    except ApiError as e:
        err('error: %s\n' % e)
        return exit_code(e)
    except ValueError as e:     # an answer that is not JSON
        err('error: the API answered something that is not its JSON: %s\n' % e)
        return FAILED
    except OSError as e:
        err('error: cannot reach the controller API at %s: %s\n'
            % (session.client.url if isinstance(session, Session) else '?',
               getattr(e, 'reason', e)))
        return UNREACHABLE
    if args.format == 'json':
        out(json.dumps(result.data, indent=2, sort_keys=True) + '\n')
    else:
        out(result.text)
    return result.code


def token(args, env):
    """The bearer token: --token-file, $VNETSEC_TOKEN, $VNETSEC_API_TOKEN (what the
    controller and the lab shell use), the file $VNETSEC_TOKEN_FILE names, or none
    (for an API whose reads are open). Never an argument: ``ps`` would show it."""
    path = args.token_file
    if not path:
        given = env.get('VNETSEC_TOKEN') or env.get('VNETSEC_API_TOKEN')
        if given:
            return given.strip()
        path = env.get('VNETSEC_TOKEN_FILE')
    if not path:
        return ''
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise UsageError('cannot read the token file %s: %s' % (path, e.strerror),
                         'token-file') from None


def main(argv=None, env=None):
    env = os.environ if env is None else env

    def session(args):
        url = args.api or env.get('VNETSEC_API') or DEFAULT_API
        cafile = args.ca_file or env.get('VNETSEC_CA_FILE')
        try:
            return Session(Client(url, token(args, env), cafile))
        except OSError as e:
            raise UsageError('cannot read the CA file %s: %s' % (cafile, e), 'ca-file') from None
    return run(sys.argv[1:] if argv is None else argv, session, sys.stdout.write,
               sys.stderr.write)


if __name__ == '__main__':
    sys.exit(main())
