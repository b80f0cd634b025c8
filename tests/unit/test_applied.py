"""?wait=applied: the waiters' bookkeeping (controller/switch/applied.py) and the API's
answers; tests/integration/test_vlan.py shows a waited write on real switches."""
import pytest

from controller.api.v1 import Api
from controller.api.rest import ROUTES, Running
from controller.switch.applied import AppliedWaiters
from tests.unit.test_api import call


class Event:
    """hub.Event's shape; wait() returns at once (the checks already ran)."""

    def __init__(self):
        self.is_set = False

    def set(self):
        self.is_set = True

    def wait(self, timeout):
        return self.is_set


def test_a_waiter_needs_its_changes_reconciled_then_each_switch_to_confirm():
    waiters = AppliedWaiters(Event)
    waiters.changed(2)
    seen = []

    def during_wait():                     # what the core's events do while it waits
        waiter = waiters._waiters[0]
        waiters.check({1: 7, 2: 3}, {1: 6, 2: 3}, {}, {1, 2})
        seen.append(waiter.pending)        # not reconciled yet: nothing known
        waiters.reconciled = 2
        waiters.check({1: 7, 2: 3}, {1: 6, 2: 3}, {}, {1, 2})
        seen.append(dict(waiter.pending))  # switch 1 owes bundle 7; 2 confirmed all
        waiters.check({1: 8, 2: 3}, {1: 7, 2: 3}, {}, {1, 2})
        seen.append(dict(waiter.pending))  # a later bundle is not this write's
        seen.append(waiter.event.is_set)

    assert waiters.wait(5, during_wait) == ([], {})
    assert seen == [None, {1: 7}, {}, True]
    assert not waiters._waiters


def test_a_switch_that_leaves_is_dropped_and_one_that_refuses_is_named():
    waiters = AppliedWaiters(Event)
    waiters.changed()
    waiters.reconciled = 1
    sent, confirmed = {1: 4, 2: 4, 3: 4}, {1: 4, 2: 3, 3: 3}

    def during_wait():
        waiters.check(sent, confirmed, {2: 'OFPBFC_MSG_FAILED'}, {1, 2, 3})
        assert waiters._waiters[0].pending == {3: 4}
        waiters.check(sent, confirmed, {}, {1, 2})     # 3 disconnected

    assert waiters.wait(5, during_wait) == ([], {2: 'OFPBFC_MSG_FAILED'})


def test_a_write_not_compiled_in_time_has_pending_none():
    waiters = AppliedWaiters(Event)
    waiters.changed()
    assert waiters.wait(0.01, lambda: None) == (None, {})


@pytest.fixture
def waited(service):
    answers = []
    class Answering(Running):
        def wait_applied(self):
            return answers.pop(0)
    api = Api(service, 'secret', running=Answering())
    return api, answers


def test_wait_applied_answers_once_confirmed_502_if_refused_504_if_late(waited):
    api, answers = waited
    body = {'name': 'n', 'kind': 'vxlan'}
    answers[:] = [([], {}), (['hv2'], {}), (None, {}), ([], {'hv3': 'table full'})]
    status, created = call(api, 'POST', '/v1/networks?wait=applied', dict(body, name='a', segmentation_id=7000))
    assert status == 201 and created['name'] == 'a'
    for vni, name, code, words in ((7001, 'b', 504, 'not yet confirmed by hv2'),
                                   (7002, 'c', 504, 'not yet compiled'),
                                   (7003, 'd', 502, 'hv3 refused its flows: hv3: table full')):
        status, err = call(api, 'POST', '/v1/networks?wait=applied',
                           dict(body, name=name, segmentation_id=vni))
        assert status == code and err['error']['field'] == 'wait', err
        assert 'the change is stored' in err['error']['message'] and words in \
            err['error']['message']
    assert {n['name'] for n in call(api, 'GET', '/v1/networks')[1]} == set('abcd')


@pytest.mark.parametrize('method, path', [('POST', '/v1/networks?wait=yes'),
                                          ('GET', '/v1/networks?wait=applied')])
def test_a_bad_wait_is_a_400_naming_it_and_writes_nothing(waited, method, path):
    api, answers = waited
    status, err = call(api, method, path, {'name': 'x', 'kind': 'vlan'}
                       if method == 'POST' else None)
    assert status == 400 and err['error']['field'] == 'wait'
    assert call(api, 'GET', '/v1/networks')[1] == [] and answers == []


def test_the_openapi_document_declares_wait_on_every_write(waited):
    doc = call(waited[0], 'GET', '/v1/openapi.json')[1]
    writes = {(r.path, r.method.lower()) for r in ROUTES if r.write}
    assert writes
    for path, ops in doc['paths'].items():
        for method, op in ops.items():
            names = [p['name'] for p in op.get('parameters', ())]
            assert ('wait' in names) == ((path, method) in writes), (method, path)
