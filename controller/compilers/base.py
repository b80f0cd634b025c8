"""The pipeline's skeleton on br-int: what each table does when no feature
matched. Anything unclassified drops; the firewall tables pass through until the
firewall adds its rules on top."""
from controller import pipeline as P
from controller.flows import flow, goto, reuse


def compile_defaults():
    return reuse('defaults', lambda: [
        flow('base', P.CLASSIFY, P.PRIO_DEFAULT),                       # drop
        flow('base', P.PORT_SECURITY, P.PRIO_DEFAULT, actions=[goto(P.EGRESS_ACL)]),
        flow('base', P.EGRESS_ACL, P.PRIO_DEFAULT, actions=[goto(P.ARP_RESPONDER)]),
        flow('base', P.ARP_RESPONDER, P.PRIO_DEFAULT, actions=[goto(P.L2_LOOKUP)]),
        flow('base', P.L2_LOOKUP, P.PRIO_DEFAULT),                      # drop
        flow('base', P.INGRESS_ACL, P.PRIO_DEFAULT),                    # drop
    ])
