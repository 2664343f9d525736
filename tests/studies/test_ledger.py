from dataclasses import replace

import pytest

from adamnode.studies.ledger import FLAG, NAME, NON_NEGATIVE, SEED, read_ledger, repeated, write_ledger
from adamnode.errors import ConfigError

COLUMNS = {"model": NAME, "seed": SEED, "learned": FLAG, "loss": replace(NON_NEGATIVE, optional=True)}


def test_a_ledger_reads_back_what_was_written_with_each_column_s_type(tmp_path):
    rows = [{"model": "adamnode", "seed": 7, "learned": True, "loss": 0.1 + 0.2},
            {"model": "hbnode", "seed": 8, "learned": False, "loss": None}]
    write_ledger(tmp_path / "runs.csv", COLUMNS, rows)

    back = read_ledger(tmp_path / "runs.csv", COLUMNS)

    assert back == rows
    assert type(back[0]["seed"]) is int and type(back[0]["learned"]) is bool
    assert (tmp_path / "runs.csv").read_text().splitlines()[2] == "hbnode,8,False,"


def test_a_ledger_with_other_columns_is_refused_naming_the_difference(tmp_path):
    write_ledger(tmp_path / "other.csv", {"model": NAME, "seed": SEED}, [{"model": "node", "seed": 1}])

    with pytest.raises(ConfigError, match=r"not a ledger of this study: it lacks learned, loss \(the study's columns "
                                          r"are model, seed, learned, loss\)"):
        read_ledger(tmp_path / "other.csv", COLUMNS)


def test_reordered_columns_are_the_same_ledger(tmp_path):
    (tmp_path / "runs.csv").write_text("seed,model,loss,learned\n3,node,,True\n")

    assert read_ledger(tmp_path / "runs.csv", COLUMNS) == [{"model": "node", "seed": 3, "learned": True, "loss": None}]


@pytest.mark.parametrize("line, problem", [
    ("node,1,True,0.5,9", "line 2 has more cells than columns"),
    ("node,1,True", "line 2 has fewer cells than columns"),
    ("node,one,True,0.5", "line 2, column seed: 'one' is not an integer of at least 0"),
    ("node,1,yes,0.5", "line 2, column learned: 'yes' is not True or False"),
    ("node,1,True,low", "line 2, column loss: 'low' is not a finite number of at least 0"),
    (",1,True,0.5", "line 2, column model: is empty, but must be a text"),
    ("\nnode,-1,True,0.5", "line 3, column seed: '-1' is not"),  # the file's line, blank lines counted
])
def test_a_damaged_line_is_named_with_its_problem(tmp_path, line, problem):
    (tmp_path / "runs.csv").write_text("model,seed,learned,loss\n" + line + "\n")

    with pytest.raises(ConfigError, match=problem):
        read_ledger(tmp_path / "runs.csv", COLUMNS)


def test_a_missing_ledger_is_one_line_naming_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read the ledger .*absent.csv \(No such file or directory\)"):
        read_ledger(tmp_path / "absent.csv", COLUMNS)


def test_repeated_names_each_run_found_more_than_once():
    rows = [{"model": "node", "seed": 1}, {"model": "node", "seed": 2}, {"model": "anode", "seed": 1},
            {"model": "node", "seed": 1}, {"model": "anode", "seed": 1}, {"model": "anode", "seed": 1}]

    assert repeated(rows, ("model", "seed")) == [("anode", 1), ("node", 1)]
    assert repeated(rows[:3], ("model", "seed")) == []
