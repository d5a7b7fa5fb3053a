import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringlab.errors import InputError
from ringlab.scenario.units import parse_time_ns


@pytest.mark.parametrize(
    "text, ns",
    [("1us", 1000), ("67.5us", 67500), ("2ms", 2_000_000), ("500ns", 500), ("1s", 10**9), (250, 250), ("1e3ns", 1000)],
)
def test_times_with_units_become_integer_nanoseconds(text, ns):
    assert parse_time_ns(text, "interval") == ns


def test_a_bare_whole_number_is_nanoseconds_in_a_file_a_set_and_an_option():
    assert parse_time_ns(1000, "interval") == parse_time_ns("1000", "--from") == 1000  # TOML int, option string
    assert parse_time_ns(" 5037000 ", "--from") == parse_time_ns("5.037ms", "--from")


@pytest.mark.parametrize("text", ["1 parsec", "us", "-1us", "0.5ns", "1.5", True, 1.5, "1uss", "1_000"])
def test_bad_times_name_the_field(text):
    with pytest.raises(InputError) as error:
        parse_time_ns(text, "poller.cost")
    assert str(error.value).startswith("poller.cost: ")


@given(st.integers(0, 10**12))
def test_every_whole_nanosecond_count_round_trips_through_each_unit(ns):
    assert parse_time_ns(f"{ns}ns", "x") == ns
    assert parse_time_ns(f"{ns / 1000}us", "x") == ns
