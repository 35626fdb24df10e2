"""`checks.git_history`: what each commit added, read from one `git log`, on real repositories.

Merges count only what is new against every parent; `.gitattributes` cannot hide text; symlinks and
submodules are listed, never read; the byte budget lists what it did not read; and the cost follows what
the commits added (bytes scanned == bytes added), never commits × tree size. Long ranges are built with
`git fast-import` so 200 commits take a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.change import Change
from checks.engine import run_check
from checks.git_change import change_from_git
from checks.git_history import history_from_git
from checks.history import History
from checks.secrets.check import SecretsCheck
from tests.gitrepo import GitRepo
from tests.secrets_keys import github_token


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "hello\n"})


def fast_import(repo: GitRepo, branch: str, parent: str, commits: list[dict[str, bytes]]) -> str:
    """Append `commits` (path -> content) to `branch`, starting from `parent`; returns the new tip."""
    out = bytearray()
    for i, files in enumerate(commits):
        out += f"commit refs/heads/{branch}\ncommitter t <t@t.invalid> {1_700_000_000 + i} +0000\n".encode()
        out += b"data 2\nc\n" + (f"from {parent}\n".encode() if i == 0 else b"")
        for path, data in files.items():
            out += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
        out += b"\n"
    repo.git("fast-import", "--quiet", "--force", input=bytes(out))
    return repo.git("rev-parse", f"refs/heads/{branch}")


def history(repo: GitRepo, base: str = "main", head: str = "HEAD", **options: int) -> History:
    base_sha, head_sha = repo.git("rev-parse", base), repo.git("rev-parse", head)
    return history_from_git(str(repo.path), base_sha, head_sha, **options)


def findings(repo: GitRepo, hist: History) -> list[tuple[str, str]]:
    """The secrets check's history findings on the committed change main..HEAD (with its base reader)."""
    change = change_from_git(repo.path, "main", head="HEAD")
    change.history = hist
    result = run_check(SecretsCheck(), change)
    assert result.error is None, result.error
    return [(f.path, f.metadata["commit"]) for f in result.findings]


def test_each_commit_lists_its_added_lines_with_their_numbers(repo: GitRepo) -> None:
    one = repo.commit({"a.py": "a\nb\nc\n"}, "one")
    two = repo.commit({"a.py": "a\nB\nc\nd\n"}, "two")

    hist = history(repo)

    assert [c.sha for c in hist.commits] == [one, two] and hist.total_commits == 2
    (first,), (second,) = (c.files for c in hist.commits)
    assert (first.path, first.added, first.lines.ranges()) == ("a.py", b"a\nb\nc\n", [(1, 3)])
    assert (second.added, second.lines.ranges(), second.line_of(2)) == (b"B\nd\n", [(2, 2), (4, 4)], 4)


def test_a_merge_counts_only_lines_new_against_every_parent(repo: GitRepo) -> None:
    token = github_token()
    repo.commit({"f.py": "f = 1\n"}, "feature work")
    repo.switch("main")
    repo.commit({"main.py": "m = 1\n"}, "main moves on")
    repo.switch("feature")
    repo.git("merge", "--quiet", "--no-commit", "--no-ff", "main")
    repo.write("f.py", f'f = 1\nT = "{token}"\n')  # an "evil merge": the merge commit itself adds a line
    repo.add("f.py")
    repo.git("commit", "--quiet", "--no-verify", "-m", "merge main, and a token")
    merge = repo.head()
    repo.commit({"f.py": "f = 1\n"}, "drop it")

    hist = history(repo)  # main..HEAD: the feature commit, the merge, the fix

    files = {c.sha: [(f.path, f.added, f.lines.ranges()) for f in c.files] for c in hist.commits}
    assert files[merge] == [("f.py", f'T = "{token}"\n'.encode(), [(2, 2)])], "main.py is main's, not new"
    assert findings(repo, hist) == [("f.py", merge)]


def test_gitattributes_binary_does_not_hide_text(repo: GitRepo) -> None:
    token = github_token()
    repo.commit({".gitattributes": "*.cfg -diff\n", "app.cfg": "name = app\n"}, "attributes")
    first = repo.commit({"app.cfg": f'name = app\ntoken = "{token}"\n'}, "a token in a -diff file")
    repo.commit({"app.cfg": "name = app\n"}, "gone")

    hist = history(repo)

    assert findings(repo, hist) == [("app.cfg", first)]
    added = [f.added for c in hist.commits for f in c.files if f.path == "app.cfg"]
    assert added[1] == f'token = "{token}"\n'.encode()


def test_symlinks_and_submodules_are_listed_never_read(repo: GitRepo) -> None:
    repo.symlink("link.txt", "/etc/passwd")
    repo.add("link.txt")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.head()},vendor/lib")
    repo.git("commit", "--quiet", "--no-verify", "-m", "a link and a submodule")
    sha = repo.head()

    hist = history(repo)

    assert hist.commits[0].files == ()
    assert sorted((s.path, s.reason) for s in hist.skipped) == [
        ("link.txt", f"symbolic link (its target is not followed); added in commit {sha[:12]}"),
        ("vendor/lib", f"submodule commit (its contents are not scanned); added in commit {sha[:12]}"),
    ]


def test_a_rename_is_compared_with_the_base_of_its_old_path(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    token = github_token()
    repo.commit({"old.py": "".join(f"line_{i} = {i}\n" for i in range(20)) + f'T = "{token}"\n'}, "base")
    repo.branch("feature")
    repo.move("old.py", "new.py")
    repo.commit({"new.py": (repo.path / "new.py").read_text().replace("T =", "    T =")}, "move, re-indent")
    repo.commit({"new.py": (repo.path / "new.py").read_text().replace("    T =", "T =")}, "and back")

    hist = history(repo)

    assert next(f.old_path for c in hist.commits for f in c.files) == "old.py"
    assert findings(repo, hist) == [], "the base already had it (under the old name)"


def test_the_byte_budget_lists_the_commits_it_did_not_read(repo: GitRepo) -> None:
    shas = [repo.commit({f"f{i}.txt": "x" * 100 + "\n"}, f"c{i}") for i in range(4)]

    hist = history(repo, max_bytes=250)

    assert [c.sha for c in hist.commits] == shas[:2]
    (note,) = hist.skipped
    assert note.path == "(2 more commits)" and "reads at most 250 bytes of added lines" in note.reason


def test_200_commits_rewriting_a_large_file_scan_only_what_they_added(repo: GitRepo) -> None:
    """Cost follows the bytes the commits added, not commits × file (or tree) size."""
    lines = [f"value_{i:05d} = {i * 7919 % 100_003}\n".encode() for i in range(4_000)]  # ~100 KB
    base = repo.commit({"big.py": b"".join(lines), **{f"tree/f{i}.py": b"x = %d\n" % i for i in range(300)}},
                       "a large file and a tree")
    repo.git("branch", "--force", "main", base)
    commits, expected = [], 0
    for n in range(200):
        lines[n * 17 % len(lines)] = f"changed_{n} = {n}\n".encode()
        expected += len(lines[n * 17 % len(lines)])
        commits.append({"big.py": b"".join(lines)})
    tip = fast_import(repo, "feature", base, commits)

    hist = history(repo, head=tip)
    assert len(hist.commits) == 200 and hist.skipped == []
    assert hist.added_bytes == expected
    run_check(SecretsCheck(), Change(base, tip, [], history=hist))
    assert hist.scanned_bytes == hist.added_bytes
    assert hist.scanned_bytes * 1000 < 200 * len(b"".join(lines)), "not 200 rescans of the file"


def test_200_commits_each_adding_a_small_file(repo: GitRepo) -> None:
    base = repo.head()
    small = [{f"n/{n}.py": f"n_{n} = {n}\n".encode() * 4} for n in range(200)]
    tip = fast_import(repo, "feature", base, small)

    hist = history(repo, head=tip)

    assert hist.added_bytes == sum(len(data) for files in small for data in files.values())
    assert [f.path for _c, f in hist.files()] == [f"n/{n}.py" for n in range(200)]


def test_a_file_a_commit_left_as_the_head_has_it_is_not_read_twice(repo: GitRepo) -> None:
    token = github_token()
    kept = f'KEPT = "{token}"\n' + "x = 1\n" * 50
    repo.commit({"kept.py": kept, "gone.py": f'GONE = "{github_token()}"\n'}, "two files")
    gone_in = repo.head()
    repo.remove("gone.py")
    repo.commit(message="one goes")
    change = change_from_git(repo.path, "main", head="HEAD")
    change.history = hist = history(repo)

    result = run_check(SecretsCheck(), change)

    assert sorted((f.path, f.line, f.metadata.get("commit")) for f in result.findings) == [
        ("gone.py", 0, gone_in), ("kept.py", 1, None)]
    assert hist.covered_bytes == len(kept), "kept.py: the head scan read it"
    assert hist.scanned_bytes + hist.covered_bytes == hist.added_bytes
