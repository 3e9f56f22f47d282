"""The grading core: registry, success line, and the failure messages of COURSE_SPEC section 3."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mi_helpers.checks import REGISTRY
from mi_helpers.checks.core import (ExerciseFailed, call, describe, exercise, expect_close,
                                    expect_number, expect_tensor, generator)


@pytest.fixture
def toy_check():
    """A throwaway exercise: double every entry of a (2, 3) float32 tensor."""

    @exercise("99.1", "double", points=1, difficulty=1, minutes=1)
    def check_double(double):
        x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        tried = "x = arange(6) of shape (2, 3), float32"
        out = call(double, x, tried=tried)
        expect_close(out, 2 * x, tried=tried, hint="multiply by two")

    yield check_double
    del REGISTRY["99.1"]


def verdict(check, answer) -> str:
    with pytest.raises(ExerciseFailed) as failed:
        check(answer)
    return str(failed.value)


def test_success_prints_one_line(toy_check, capsys):
    toy_check(lambda x: x * 2)
    assert capsys.readouterr().out == "✔ 99.1 double passed\n"


def test_registry_knows_the_exercise(toy_check):
    ex = REGISTRY["99.1"]
    assert (ex.id, ex.slug, ex.points, ex.notebook, ex.title) == ("99.1", "double", 1, "99", "99.1 double")
    assert toy_check.exercise is ex


def test_stub_is_not_attempted(toy_check):
    def double(x):
        raise NotImplementedError()
    message = verdict(toy_check, double)
    assert message.startswith("✘ 99.1 double: not attempted yet")
    assert "raise NotImplementedError()" in message


def test_none_result_asks_for_return(toy_check):
    message = verdict(toy_check, lambda x: None)
    assert "returned None" in message and "return" in message


def test_check_given_none_or_not_callable(toy_check):
    assert "received None" in verdict(toy_check, None)
    assert "needs your `double` function" in verdict(toy_check, 3)


def test_wrong_type_is_named(toy_check):
    message = verdict(toy_check, lambda x: (2 * x).numpy())
    assert "should be a torch.Tensor" in message and "numpy array of shape (2, 3)" in message


def test_wrong_shape_shows_both_shapes(toy_check):
    message = verdict(toy_check, lambda x: (2 * x).T)
    assert "wrong shape" in message and "shape (2, 3)" in message and "shape (3, 2)" in message


def test_wrong_dtype_shows_both_dtypes(toy_check):
    message = verdict(toy_check, lambda x: (2 * x).double())
    assert "wrong dtype" in message and "float32" in message and "float64" in message


def test_nan_is_reported(toy_check):
    message = verdict(toy_check, lambda x: 2 * x / (x - x))
    assert "NaN or infinite" in message


def test_wrong_values_show_expected_received_and_hint(toy_check):
    message = verdict(toy_check, lambda x: 2 * x + 1)
    for part in ("tried:", "expected:", "received:", "hint:", "multiply by two", "largest difference"):
        assert part in message
    # a hint's second line lines up under its first, after "hint:"
    assert any(line.startswith(" " * 12 + "largest difference") for line in message.splitlines()), message


def test_learner_exception_names_their_line_not_ours(toy_check):
    def double(x):
        return x @ x  # (2, 3) @ (2, 3): a shape error in the learner's code
    message = verdict(toy_check, double)
    assert "your function raised RuntimeError" in message
    assert "return x @ x" in message
    assert "mi_helpers" not in message


def test_failure_renders_without_traceback(toy_check):
    with pytest.raises(ExerciseFailed) as failed:
        toy_check(lambda x: x)
    lines = failed.value._render_traceback_()
    assert "99.1 double" in lines[0]
    assert not any("Traceback" in line or ".py" in line for line in lines)


def test_failure_is_an_assertion_with_no_chained_context(toy_check):
    with pytest.raises(AssertionError) as failed:
        toy_check(lambda x: x)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_two_exercises_cannot_share_an_id(toy_check):
    with pytest.raises(ValueError):
        exercise("99.1", "other", points=1, difficulty=1, minutes=1)(lambda f: None)


def test_generator_is_deterministic_and_private():
    state = torch.get_rng_state()
    a = torch.randn(5, generator=generator("03.2"))
    b = torch.randn(5, generator=generator("03.2"))
    c = torch.randn(5, generator=generator("03.3"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=3),
       scale=st.floats(1e-3, 1e3))
def test_expect_close_accepts_equal_and_rejects_perturbed(shape, scale):
    x = torch.randn(tuple(shape)) * scale
    expect_close(x.clone(), x, tried="t")
    y = x.clone().flatten()
    y[0] += 1e-2 * scale + 1e-3
    with pytest.raises(Exception) as failed:
        expect_close(y.reshape(x.shape), x, tried="t")
    assert "the values are wrong" in str(failed.value)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4))
def test_describe_names_shape_and_dtype(shape):
    assert describe(torch.zeros(*shape)) == f"tensor of shape {tuple(shape)}, float32"
    assert describe(np.zeros(shape)).startswith(f"numpy array of shape {tuple(shape)}")


def test_expect_tensor_and_number_messages():
    with pytest.raises(Exception, match="wrong device"):
        expect_tensor(torch.zeros(1), device="meta", tried="t")
    with pytest.raises(Exception, match="single number"):
        expect_number("1.0", 1.0, tried="t")
    with pytest.raises(Exception, match="NaN"):
        expect_number(math.nan, 1.0, tried="t")
    assert expect_number(torch.tensor(2.0), 2.0, tried="t") == 2.0


def test_a_check_puts_every_global_random_state_back(toy_check):
    import random

    import numpy as np

    def double_that_draws(x):
        random.random(), np.random.rand(), torch.rand(3)
        torch.manual_seed(123)
        return 2 * x

    before = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    toy_check(double_that_draws)
    with pytest.raises(ExerciseFailed):
        toy_check(lambda x: (torch.manual_seed(7), x)[1])
    assert random.getstate() == before[0]
    assert (np.random.get_state()[1] == before[1]).all()
    assert torch.equal(torch.get_rng_state(), before[2])


def test_an_alias_in_a_method_of_the_learners_class_is_found():
    from torch.nn.functional import scaled_dot_product_attention as attend  # the learner's alias

    from mi_helpers.harness import forbidden_alias_in_call

    class Mine(torch.nn.Module):
        def forward(self, q, k, v):
            return attend(q, k, v)

    class Honest(torch.nn.Module):
        def forward(self, q, k, v):
            return (q @ k.transpose(-1, -2)).softmax(-1) @ v

    def build(cls):  # a course function handed the learner's class
        return cls()

    names = ("torch.nn.functional.scaled_dot_product_attention",)
    assert forbidden_alias_in_call(build, (Mine,), {}, names) == names[0]
    assert forbidden_alias_in_call(Mine(), (), {}, names) == names[0]
    assert forbidden_alias_in_call(build, (Honest,), {}, names) is None
    assert forbidden_alias_in_call(Honest(), (torch.ones(2),), {"scale": 1.0}, names) is None


def test_an_in_place_edit_of_a_tensor_in_a_list_argument_comes_back_from_the_kernel():
    from mi_helpers import harness, remote

    kernel_side = [torch.ones(3), torch.zeros(2)]
    seen = harness._before((kernel_side,), {"extra": {"a": torch.ones(1)}})
    kernel_side[1].add_(5)
    changes = harness._after((kernel_side,), {"extra": {"a": torch.ones(1)}}, seen)
    assert [(c[0], c[1]) for c in changes] == [([0, 1], "tensor")]
    grader_side = [torch.ones(3), torch.zeros(2)]
    target = remote._argument((grader_side,), {}, changes[0][0])
    assert target is grader_side[1]
    remote._apply_tensor_change(target, changes[0][2])
    assert torch.equal(grader_side[1], torch.full((2,), 5.0))
