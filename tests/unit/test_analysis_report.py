"""The analysis report's verdicts (bench/analysis.py rows_of): a claim holds only
when every figure it rests on says so."""
import copy

from bench.analysis import rows_of

FIGURES = {
    'bridge_local': {'gbits': 0.74, 'rtt': 0.205, 'traversals': 2.0, 'underlay': 0.0,
                     'same_switch_forbidden_delivered': True},
    'bridge_remote': {'gbits': 0.75, 'rtt': 0.49, 'traversals': 4.0, 'underlay': 2.14,
                      'same_switch_forbidden_delivered': True},
    'per_vnic': {'gbits': 1.02, 'rtt': 0.097, 'traversals': 1.0, 'underlay': 0.0,
                 'same_switch_forbidden_delivered': False,
                 'after_move_allowed': [True, True], 'after_move_forbidden': [False, False],
                 'segment_limits': {4094: 'accepted', 4095: '400 segmentation_id',
                                    16777215: 'accepted', 16777216: '400 segmentation_id'}},
    'pool': ({'vlan': 4094, 'vxlan': 4095}, '409 the vlan pool 1-4094 is exhausted'),
    'mapping': [(8, 8, 24), (32, 32, 96), (128, 128, 384), (256, 256, 768)],
    'sprawl': {'pruned': 24, 'unpruned': 48, 'tagged_seen': 72, 'foreign': 0, 'vlans': 6},
    'dmz': ([True, True], [False, False]),
    'segmentation': {'vlan': {'gbits': 0.8, 'rtt': 0.3, 'underlay': 1.04},
                     'vxlan': {'gbits': 0.7, 'rtt': 0.4, 'underlay': 1.08}},
    'sessions': {'dmz': [False], 'off': {'tcp': (5.1, 2.9), 'udp': (2.0, 6.0)},
                 'on': {'tcp': (8.0, 0.3), 'udp': (8.0, 0.2)}},
}


def verdicts(figures):
    return [holds for _, _, holds in rows_of(figures)]


def test_every_claim_holds_on_the_measured_figures():
    rows = rows_of(FIGURES)
    assert len(rows) == 9 and all(holds for _, _, holds in rows)
    assert '0.74 Gbit/s' in rows[0][1] and '1.02 Gbit/s' in rows[0][1]


def test_a_figure_against_the_claim_turns_its_row_to_no():
    changes = [
        (0, lambda f: f['per_vnic'].update(gbits=0.5)),
        (1, lambda f: f['bridge_remote'].update(underlay=0.1)),
        (2, lambda f: f['per_vnic'].update(same_switch_forbidden_delivered=True)),
        (3, lambda f: f['per_vnic']['segment_limits'].update({4095: 'accepted'})),
        (4, lambda f: f.update(mapping=[(8, 8, 24), (256, 8, 768)])),
        (5, lambda f: f['sprawl'].update(foreign=3)),
        (6, lambda f: f['per_vnic'].update(after_move_forbidden=[True, False])),
        (7, lambda f: f['segmentation']['vxlan'].update(underlay=1.01)),
        (8, lambda f: f['sessions']['on'].update(udp=(2.1, 5.9))),
    ]
    for row, change in changes:
        figures = copy.deepcopy(FIGURES)
        change(figures)
        result = verdicts(figures)
        assert result[row] is False and sum(result) == 8, (row, result)


def test_a_step_without_figures_leaves_its_rows_not_measured_and_the_others_stand():
    figures = copy.deepcopy(FIGURES)
    del figures['sprawl'], figures['per_vnic']
    rows = rows_of(figures, {'sprawl': 'over its time limit of 300 s'})
    assert [holds for _, _, holds in rows] == [None, None, None, None, True, None, None,
                                               True, True]
    assert rows[5][1] == 'not measured: sprawl over its time limit of 300 s'
    assert rows[0][1] == 'not measured: per_vnic not run'


def test_a_step_over_its_limit_is_stopped_and_unwinds():
    import time

    import pytest

    from bench.analysis import OverLimit, timed_step
    unwound = []

    def step():
        try:
            time.sleep(5)
        finally:
            unwound.append(True)        # as a `with DataCenter` block tears down
    t0 = time.time()
    with pytest.raises(OverLimit, match='over its time limit of 0.2 s'):
        timed_step(step, 0.2)
    assert unwound and time.time() - t0 < 2
    assert timed_step(lambda: 42, 5) == 42
