"""`repair serve --policy policy.toml` (issue 23): which requests for a global edit the review queue takes.
General knowledge is never among them; a bad file is one line, before the model loads."""

from __future__ import annotations

import pytest

from repair.serve.review import Policy, ReviewQueue, ReviewRequest


def test_the_default_takes_requests_about_oneself_and_a_private_person():
    q = ReviewQueue(None)
    for about in ("self", "person"):
        item = q.add(ReviewRequest(prompt="Where does Maya Taylor live?", about=about), "bob", "bob")
        assert item.about == about and item.status == "pending"
    with pytest.raises(ValueError):
        ReviewRequest(prompt="What is the capital of France?", about="general")  # no such choice


def test_a_policy_can_close_the_queue_or_narrow_it(tmp_path):
    f = tmp_path / "policy.toml"
    f.write_text('[review]\nabout = ["self"]\nmax_pending = 1\n')
    q = ReviewQueue(tmp_path / "review.json", Policy.load(f))
    with pytest.raises(PermissionError, match="about self only"):
        q.add(ReviewRequest(prompt="Where does Maya Taylor live?", about="person"), "bob", "bob")
    q.add(ReviewRequest(prompt="Where do I live?"), "bob", "bob")
    with pytest.raises(OverflowError):
        q.add(ReviewRequest(prompt="Where do I work?"), "bob", "bob")
    f.write_text("[review]\nenabled = false\n")
    with pytest.raises(PermissionError, match="no requests for global edits"):
        ReviewQueue(None, Policy.load(f)).add(ReviewRequest(prompt="Where do I live?"), "bob", "bob")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[review]\nabout = ["general"]\n', "review.about.0"),
        ("[review]\nenabled = true\nauto_approve = true\n", "review.auto_approve"),
        ("[limits]\nx = 1\n", "only [review]"),
        ("[review\n", "policy file"),
    ],
)
def test_a_bad_policy_file_is_one_line(tmp_path, text, says):
    f = tmp_path / "policy.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match="policy file") as e:
        Policy.load(f)
    assert says in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="policy file"):
        Policy.load(tmp_path / "missing.toml")
