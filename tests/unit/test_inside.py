"""Point 5 of the pause rule (`console.core.inside`) on hand-built subgraph levels."""

from __future__ import annotations

from console.core.inside import Gates, Inside, Level, newest_per_namespace

PULL = "~__pregel_pull, {}"
GATES = {"s": Gates(before=frozenset({"b"}), after=frozenset({"a"})),
         "s|t": Gates(before=frozenset({"x"}))}


def level(ns: str, checkpoint_id: str, *tokens: str, **writes: tuple[str, ...]) -> Level:
    found = Level(ns, checkpoint_id, tuple(tokens))
    for channel, nodes in writes.items():
        for node in nodes:
            found.add_write(PULL.format(node), f"__{channel}__" if channel != "out" else "x")
    return found


def test_a_level_at_its_own_before_gate_is_stopped() -> None:
    assert Inside([level("s:1", "c2", "b")], GATES).paused_inside(["s"]) == ("s",)


def test_a_level_whose_last_run_node_is_an_after_gate_is_stopped() -> None:
    assert Inside([level("s:1", "c2", "~ran:a")], GATES).paused_inside(["s"]) == ("s",)


def test_a_level_between_its_gates_is_not_stopped() -> None:
    assert Inside([level("s:1", "c2", "c")], GATES).paused_inside(["s"]) == ()


def test_a_question_or_a_failure_of_its_own_is_not_a_stop() -> None:
    assert Inside([level("s:1", "c2", "b", interrupt=("b",))], GATES).paused_inside(["s"]) == ()
    assert Inside([level("s:1", "c2", "b", error=("b",))], GATES).paused_inside(["s"]) == ()
    # a finished task's error is its own past
    assert Inside([level("s:1", "c2", "b", "c", error=("c",), out=("c",))],
                  GATES).paused_inside(["s"]) == ("s",)


def test_an_error_is_older_than_a_stop_below_it() -> None:
    """t failed once (its error stays in its fixed write slot), then its own subgraph
    stopped: the level above is stopped too."""
    mid = level("s:1", "c2", "t", error=("t",))
    assert Inside([mid, level("s:1|t:9", "c3", "x")], GATES).paused_inside(["s"]) == ("s",)
    assert Inside([mid, level("s:1|t:9", "c3", "y")], GATES).paused_inside(["s"]) == ()
    # a child checkpoint older than the level above is not run by its current task
    assert Inside([mid, level("s:1|t:9", "c1", "x")], GATES).paused_inside(["s"]) == ()


def test_a_subgraph_the_graph_does_not_declare_is_never_stopped() -> None:
    assert Inside([level("called:1", "c2", "b")], GATES).paused_inside(["called"]) == ()


def test_one_stopped_fan_out_branch_pauses_the_node() -> None:
    levels = [level("s:1", "c2", "c"), level("s:2", "c3", "b")]
    assert Inside(levels, GATES).paused_inside(["s", "s"]) == ("s",)


def test_the_parent_counts_only_when_it_is_the_step_before() -> None:
    rows = [("s:1", "c1", None, -1), ("s:1", "c2", "c1", 0), ("s:2", "c5", "c3", 4),
            ("s:2", "c3", "c2", 1)]
    assert sorted(newest_per_namespace(rows)) == [("s:1", "c2", "c1"), ("s:2", "c5", None)]
