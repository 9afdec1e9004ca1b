"""Siblings of a study (``NAME:verify-N``, ``NAME:baseline``) are listed under it, never on their own."""

from __future__ import annotations

from tempopt.study.siblings import grouped, is_verification, owner_of


def _groups(studies: dict[str, dict]) -> list[tuple[str, list[str]]]:
    found = grouped(list(studies), lambda n: n, lambda n: studies[n])
    return [(study, siblings) for study, siblings in found]


def test_siblings_are_known_by_name_or_by_the_attr_that_names_their_study():
    studies = {
        "a": {},
        "a:verify-30": {"search_study": "a"},
        "b": {},
        "a:baseline": {},  # the student alone's, known by its name
        "renamed-verify": {"search_study": "b"},  # known by its attr
        "gone:verify-3": {},  # its study was deleted: it stands on its own
        "gone:baseline:verify-2": {"search_study": "gone:baseline"},
        "gone:baseline": {},
    }
    assert _groups(studies) == [
        ("a", ["a:verify-30", "a:baseline"]),
        ("b", ["renamed-verify"]),
        ("gone:verify-3", []),
        ("gone:baseline", ["gone:baseline:verify-2"]),
    ]


def test_studies_naming_each_other_each_stand_on_their_own():
    studies = {"x": {"search_study": "y"}, "y": {"search_study": "x"}}
    assert _groups(studies) == [("x", []), ("y", [])]
    assert owner_of("x", {"search_study": "x"}, {"x"}) is None


def test_only_a_verification_sibling_holds_replicates():
    assert is_verification("a:verify-12") and not is_verification("a:baseline") and not is_verification("a")
