"""The flag checkpoints' background build on a long path: the detail can tell a walk it must
not make on the UI thread (``near``), and quitting stops the build (``cancelled``)."""

from __future__ import annotations

from trajscope.engine.analysis.flags import FlagCache
from trajscope.engine.synthetic import linear_events
from trajscope.engine.tree import Tree


def test_near_says_whether_a_checkpoint_or_the_task_is_within_reach():
    tree = Tree.fold(linear_events(3000))
    cache = FlagCache(tree)
    assert cache.near("10") and not cache.near("3000")
    cache.flags_at("2000")  # leaves checkpoints on the path down to step 2000
    assert cache.near("3000") and not cache.near("3000", limit=500)


def test_a_cancelled_build_stops_and_says_it_is_no_longer_building():
    tree = Tree.fold(linear_events(3000))
    cache = FlagCache(tree)
    cache.building = cache.cancelled = True
    cache.build()
    assert cache.states == {} and not cache.building
    cache.cancelled = False
    cache.build()
    assert len(cache.states) == 3000 // cache.every
