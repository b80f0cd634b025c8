"""``vnetsec-controller [--config-file FILE] [framework options] APP...``: run the
vnetsec apps (``apps.vlan apps.vxlan apps.firewall``, or ``apps.vnetsec``) on
whichever runtime is installed, Ryu 4.34 or os-ken (docs/runtime.md). On Ryu it
is ``ryu-manager``; os-ken 4 has no launcher of its own."""
import sys


def main(argv=None):
    # Green threads everywhere, before the framework or anything else opens a
    # socket or takes a lock: what ryu-manager does first (hub.patch).
    import eventlet
    eventlet.monkey_patch()
    from controller import ryu_facade
    return ryu_facade.run_manager(sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    sys.exit(main())
