"""``generate``: sampled codes and tests -> pass matrix -> ranking -> labels -> accept."""

from __future__ import annotations

import itertools

import pytest

from workbench._errors import UsageError
from workbench._settings import get_settings
from workbench.generator._engine import (
    extract_asserts,
    generate,
    load_generate_result,
    parse_spec,
)
from workbench.llm import Backend, Completion
from workbench.store._sessions import SessionStore

SPEC = '''def count_vowels(s: str) -> int:
    """Return how many vowels (a, e, i, o, u, in either case) the string s holds."""
'''


def _code(body: str, tag: str) -> str:
    return f"Here you go:\n```python\ndef count_vowels(s):\n    # {tag}\n    {body}\n```\n"


RIGHT = [
    _code("return sum(c in 'aeiouAEIOU' for c in s)", "right-1"),
    _code("return sum(1 for c in s.lower() if c in 'aeiou')", "right-2"),
    _code("return len([c for c in s if c.lower() in 'aeiou'])", "right-3"),
]
LOWER_ONLY = [  # forgets upper case
    _code("return sum(c in 'aeiou' for c in s)", "wrong-1"),
    _code("return sum(1 for c in s if c in 'aeiou')", "wrong-2"),
    _code("return len([c for c in s if c in 'aeiou'])", "wrong-3"),
    _code("return sum(s.count(v) for v in 'aeiou')", "wrong-4"),
    _code("return len([c for c in s if c in 'aieou'])", "wrong-5"),
]
WITH_Y = [_code("return sum(c in 'aeiouyAEIOUY' for c in s)", "wrong-y")]
NO_CODE = ["Sorry, I can only describe the idea: loop over the string and count the vowels."]


def _tests(*lines: str) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


# the truth about every test the fake model writes
TRUTH = {
    "assert count_vowels('hello') == 2": True,
    "assert count_vowels('') == 0": True,
    "assert count_vowels('rhythm') == 0": True,
    "assert count_vowels('AEIOU') == 5": True,
    "assert count_vowels('Apple') == 2": True,
    "assert count_vowels('Apple') == 1": False,
    "assert count_vowels('AEIOU') == 0": False,
    "assert count_vowels('Umbrella') == 2": False,
    "assert count_vowels('hello') == 3": False,
}


class ScriptedModel(Backend):
    """Answers the implementation prompt and the test prompt from two scripts, in turn."""

    kind = "scripted"
    finish_reason = "stop"

    def __init__(self, codes: list[str], tests: list[str]) -> None:
        super().__init__()
        self.scripts = {"code": itertools.cycle(codes), "tests": itertools.cycle(tests)}

    @property
    def model(self) -> str:
        return "scripted"

    def _complete(self, request, *, on_token, cancel):
        prompt = request.messages[-1]["content"]
        script = self.scripts["tests" if "test cases" in prompt else "code"]
        return [
            Completion(text=next(script), finish_reason=self.finish_reason, completion_tokens=10)
            for _ in range(request.n)
        ]


def tag(candidate) -> str:
    return candidate.code.split("# ")[1].split("\n")[0]


def run(codes, tests, **options):
    return generate(
        SPEC,
        backend=ScriptedModel(codes, tests),
        n_codes=len(codes),
        n_tests=len(tests),
        **options,
    )


def answer_questions(result) -> list[str]:
    """A user who knows the truth answers until the labeller stops; returns the tests asked."""
    asked = []
    while (question := result.next_test_to_label()) is not None:
        asked.append(question.source)
        result.label(question.test, TRUTH[question.source])
    return asked


def test_a_right_implementation_ranks_first_and_the_run_is_recorded():
    tests = [
        _tests("assert count_vowels('hello') == 2", "assert count_vowels('AEIOU') == 5"),
        _tests("assert count_vowels('Apple') == 2", "assert count_vowels('rhythm') == 0"),
        _tests("assert count_vowels('hello') == 3", "assert count_vowels('') == 0"),
    ]
    result = run([*RIGHT, *LOWER_ONLY[:2], *WITH_Y], tests)
    assert tag(result.best).startswith("right")
    assert len(result.candidates) == 6 and len(result.tests) == 6
    assert result.matrix.shape == (6, 6)
    assert {tag(c) for c in result.leading(1)[0]} == {"right-1", "right-2", "right-3"}
    leader = result.best
    assert leader.group == 1 and leader.passes == 5  # all but the wrong 'hello' == 3
    # the two replies, the candidates and the matrix are in the session database
    store = SessionStore(get_settings().home)
    run_record = store.run(result.run_id)
    assert run_record["kind"] == "generate" and run_record["status"] == "finished"
    assert run_record["entry"] == "count_vowels"
    assert {c["code"] for c in run_record["candidates"]} == {c.code for c in result.candidates}
    exchanges = [e for e in store.events(result.run_id) if e["kind"] == "llm_exchange"]
    assert len(exchanges) == 2
    assert exchanges[0]["data"]["completions"][0]["text"] in RIGHT + LOWER_ONLY + WITH_Y + tests
    text = repr(result)
    assert "count_vowels" in text and "5/6" in text and "#1" in text
    assert "return sum((c in 'aeiouAEIOU' for c in s))" in text  # the leader's preview
    assert "<table>" in result._repr_html_() and "code of the leader" in result._repr_html_()


@pytest.mark.parametrize("ranker", ["b4", "codet", "mbr_exec", "maxpass"])
def test_labels_overturn_a_wrong_but_popular_winner(ranker):
    # five ways to forget upper case against two right ones, and tests that mostly agree
    # with the lower-case-only reading
    tests = [
        _tests("assert count_vowels('hello') == 2", "assert count_vowels('Apple') == 1"),
        _tests("assert count_vowels('AEIOU') == 0", "assert count_vowels('') == 0"),
        _tests("assert count_vowels('Umbrella') == 2", "assert count_vowels('rhythm') == 0"),
        _tests("assert count_vowels('Apple') == 2"),
    ]
    result = run([*RIGHT[:2], *LOWER_ONLY], tests, ranker=ranker, label_budget=3)
    assert result.ranking.method == ranker
    assert tag(result.best).startswith("wrong")
    question = result.next_test_to_label()
    assert question is not None
    shown = question.render_text()
    assert question.source in shown and f".label({question.test}, True)" in shown
    # it shows what the leading groups return for the test's input
    assert any(a.returned is not None for a in question.question.answers)
    assert "<pre>" in question._repr_html_()
    asked = answer_questions(result)
    assert 1 <= len(asked) <= 3
    assert tag(result.best).startswith("right")
    assert result.labels == {t: TRUTH[t] for t in asked}
    assert "out of play (do not load or contradict your labels)" in repr(result)


def test_labels_are_saved_at_once_and_a_new_store_brings_the_result_back():
    tests = [
        _tests("assert count_vowels('hello') == 2", "assert count_vowels('Apple') == 1"),
        _tests("assert count_vowels('AEIOU') == 0", "assert count_vowels('') == 0"),
        _tests("assert count_vowels('Apple') == 2"),
    ]
    result = run([*RIGHT[:2], *LOWER_ONLY[:4]], tests, label_budget=2)
    question = result.next_test_to_label()
    result.label(question.source, TRUTH[question.source])
    # saved before anything else happens: a fresh store object (a restarted kernel) sees it
    fresh = SessionStore(get_settings().home)
    assert fresh.run(result.run_id)["labels"] == {question.source: TRUTH[question.source]}

    again = load_generate_result(result.run_id)
    assert again.labels == result.labels
    assert again.best.id == result.best.id
    assert [c.group for c in again.candidates] == [c.group for c in result.candidates]
    assert again.tests == result.tests
    assert (again.matrix.passed == result.matrix.passed).all()
    # the budget counts the label given before the restart
    answer_questions(again)
    assert len(again.labels) <= 2
    assert load_generate_result(result.run_id).labels == again.labels


def test_a_reply_without_code_is_reported_not_fatal():
    tests = [_tests("assert count_vowels('hello') == 2", "assert count_vowels('AEIOU') == 5")]
    result = run([*RIGHT[:1], *NO_CODE, *RIGHT[1:2]], [*tests, "I would test it by hand."])
    assert len(result.candidates) == 2
    assert [(r.kind, r.index) for r in result.rejected] == [("code", 1), ("tests", 1)]
    assert "no Python code" in result.rejected[0].reason
    assert any("code reply 2 was not used" in n for n in result.notes)
    assert tag(result.best).startswith("right")


def test_a_reply_cut_off_in_an_example_after_the_function_still_gives_the_function():
    cut = RIGHT[0].replace("```\n", "print(count_vowels('hel") + "\n"
    model = ScriptedModel([cut], [_tests("assert count_vowels('hello') == 2")])
    model.finish_reason = "length"
    result = generate(SPEC, backend=model, n_codes=1, n_tests=1)
    assert result.rejected == [] and len(result.candidates) == 1
    assert result.candidates[0].runs and result.candidates[0].passes == 1


def test_only_replies_without_code_give_an_empty_result_that_says_so():
    result = run(NO_CODE * 2, [_tests("assert count_vowels('a') == 1")])
    assert result.candidates == [] and result.best is None
    assert any("no reply held usable code" in n for n in result.notes)
    with pytest.raises(UsageError, match="nothing to accept"):
        result.accept(namespace={})


def test_accept_binds_the_winner_and_records_it():
    tests = [_tests("assert count_vowels('hello') == 2", "assert count_vowels('AEIOU') == 5")]
    namespace: dict = {}
    result = run([*RIGHT, *LOWER_ONLY[:1]], tests, namespace=namespace)
    chosen = result.accept()
    assert namespace["count_vowels"]("Hello World") == 3
    assert chosen.id == result.best.id
    assert SessionStore(get_settings().home).run(result.run_id)["accepted"] == chosen.id
    assert load_generate_result(result.run_id).accepted == chosen.id


def test_a_candidate_that_does_not_load_ranks_last_and_cannot_be_accepted():
    broken = "```python\ndef count_vowels(s):\n    return 0\nraise SystemExit(3)\n```"
    result = run([broken, *RIGHT[:1]], [_tests("assert count_vowels('hello') == 2")])
    bad = next(c for c in result.candidates if not c.runs)
    assert bad.group is None and result.best.runs
    with pytest.raises(UsageError, match="does not even load"):
        result.accept(bad, namespace={})


def test_asserts_are_taken_self_contained_normalised_and_at_most_five_per_reply():
    reply = _tests(
        "assert f(1) == 2, 'one'",
        "assert f( 2 )==3",
        "result = f(3)",
        "assert result == 4",  # needs a variable from the reply: useless on its own
        "assert g(1) == 1",  # another function
        "def test_more():",
        "    assert f(5) == 6",
        "assert f(6) == 7",
        "assert f(7) == 8",
        "assert f(8) == 9",
    )
    assert extract_asserts(reply, "f") == [
        "assert f(1) == 2",
        "assert f(2) == 3",
        "assert f(6) == 7",
        "assert f(7) == 8",
        "assert f(8) == 9",
    ]
    cut_off = "```python\nassert f(1) == 2\nassert f(2) == [1,"  # hit max_tokens
    assert extract_asserts(cut_off, "f") == ["assert f(1) == 2"]


def test_the_spec_names_the_function_or_the_user_does():
    stub = parse_spec(SPEC)
    assert (stub.entry, stub.arity) == ("count_vowels", 1)
    prose = parse_spec("Write def pairs(xs, k): return the pairs of xs that sum to k.")
    assert (prose.entry, prose.arity) == ("pairs", 2)
    assert parse_spec("Count the words in a text.", entry="count_words").entry == "count_words"
    with pytest.raises(UsageError, match="give entry='NAME'"):
        parse_spec("Count the words in a text.")
    with pytest.raises(UsageError, match="ranker"):
        generate(SPEC, backend=ScriptedModel(RIGHT, []), ranker="best")


@pytest.mark.llm
@pytest.mark.slow  # minutes of generation on 2 cores: CI's slow step
def test_the_embedded_model_writes_codes_and_tests_and_asks_for_a_label():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("openai")
    from workbench._errors import ExtraNotInstalled
    from workbench.llm import LocalModel
    from workbench.llm._model_files import MODELS, part_files

    try:
        part_files(MODELS["qwen2.5-coder-0.5b"])
    except ExtraNotInstalled:
        pytest.skip("the local extra is not installed")
    model = LocalModel(slots=4, ctx_per_slot=1024)
    try:
        result = generate(
            SPEC, backend=model, n_codes=3, n_tests=3, max_tokens=160, seed=7, label_budget=2
        )
    finally:
        model.close()
    assert len(result.candidates) >= 2 and len(result.tests) >= 2
    assert result.best is not None and result.best.runs
    exchanges = SessionStore(get_settings().home).events(result.run_id)
    assert [e["data"]["model"] for e in exchanges if e["kind"] == "llm_exchange"] == [
        "qwen2.5-coder-0.5b"
    ] * 2
    question = result.next_test_to_label()
    if question is None:  # every candidate agreed on every test: nothing to ask
        assert result.stop_reason
    else:
        assert "count_vowels(" in question.render_text()
        result.label(question.test, True)
        assert load_generate_result(result.run_id).labels == {question.source: True}
