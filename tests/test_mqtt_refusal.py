"""The MQTT 3.1.1 refusal tracker (pure): drops with a publish outstanding and no acknowledgement become auth_failed."""

from edge.transport.refusal import STATUS_MESSAGE, RefusalTracker


def test_three_drops_in_a_row_are_a_refusal() -> None:
    t = RefusalTracker(threshold=3)
    assert not t.dropped(STATUS_MESSAGE, progressed=False)
    assert not t.dropped(7, progressed=False)
    assert t.dropped(7, progressed=False) and t.refused and t.what() == "record seq 7"
    t.acknowledged()
    assert not t.refused


def test_progress_or_nothing_outstanding_resets() -> None:
    t = RefusalTracker(threshold=2)
    t.dropped(3, progressed=False)
    assert not t.dropped(3, progressed=True)
    t.dropped(3, progressed=False)
    assert not t.dropped(0, progressed=False) and t.streak == 0
