"""Parameter descriptions read from numpydoc and Google docstrings (they fill the config reference)."""

from __future__ import annotations

from showerlearn.config.components import params_model
from showerlearn.config.docstrings import parameter_docs


class NumpyStyle:
    """A component.

    Parameters
    ----------
    alpha, beta : float
        Shared description
        on two lines.
    gamma
        Own description.

    Notes
    -----
    delta
        Not a parameter.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 2.0, gamma: int = 3) -> None: ...


def google_style(first: int, second: str = "x", pair: tuple[int, int] = (1, 2), **kwargs: object) -> None:
    """A function.

    Args:
        first: The first
            argument.
        second (str): The second.
        pair (tuple(int, int)): Two numbers.
        **kwargs: Anything else.

    Returns:
        nothing: not a parameter.
    """


def test_numpydoc_groups_names_and_stops_at_the_next_section() -> None:
    assert parameter_docs(NumpyStyle) == {
        "alpha": "Shared description on two lines.",
        "beta": "Shared description on two lines.",
        "gamma": "Own description.",
    }


def test_google_args_with_types_and_continuations() -> None:
    assert parameter_docs(google_style) == {
        "first": "The first argument.", "second": "The second.", "pair": "Two numbers.", "kwargs": "Anything else."
    }


class Subclass(NumpyStyle):
    """A variant that documents only what it changes.

    Parameters
    ----------
    gamma
        Changed here.
    """


def test_subclasses_inherit_the_descriptions_they_do_not_restate() -> None:
    docs = parameter_docs(Subclass)
    assert docs["gamma"] == "Changed here." and docs["alpha"] == "Shared description on two lines."


def test_params_models_carry_the_descriptions() -> None:
    fields = params_model(NumpyStyle).model_fields
    assert fields["gamma"].description == "Own description." and fields["gamma"].default == 3
