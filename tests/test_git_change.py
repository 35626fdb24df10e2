"""`change_from_git` on real repositories: statuses, added line numbers, heads, odd files and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checks.change import Change, ChangedFile, FileStatus
from checks.diff import parse_added_lines, unquote
from checks.git_change import change_from_git
from checks.git_refs import default_base_ref
from checks.git_run import EMPTY_TREE, GitError
from checks.worktree_files import read_worktree_file
from tests.gitrepo import GitRepo

BASE_FILES = {
    "app.py": "".join(f"line {i}\n" for i in range(1, 11)),
    "docs/old name.md": "".join(f"doc {i}\n" for i in range(1, 21)),
    "gone.txt": "bye\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """`main` with three files, and a `feature` branch checked out from it."""
    repo = GitRepo.init(tmp_path / "repo")
    repo.commit(BASE_FILES, "base")
    repo.branch("feature")
    return repo


def by_path(change: Change) -> dict[str, ChangedFile]:
    return {f.path: f for f in change.files}


def test_committed_range_statuses_and_added_lines(repo: GitRepo) -> None:
    base = repo.head()
    repo.write("app.py", "new first\n" + BASE_FILES["app.py"].replace("line 5\n", "line five\n") + "tail\n")
    repo.move("docs/old name.md", "docs/new name.md")
    repo.write("docs/new name.md", BASE_FILES["docs/old name.md"].replace("doc 7\n", "doc seven\n"))
    repo.remove("gone.txt")
    repo.write("src/new.py", "a = 1\nb = 2\nc = 3")  # no trailing newline: still 3 lines
    head = repo.commit(message="feature work")

    change = change_from_git(repo.path, head="HEAD")

    assert (change.base, change.head) == (base, head)
    files = by_path(change)
    assert set(files) == {"app.py", "docs/new name.md", "gone.txt", "src/new.py"}
    app = files["app.py"]
    assert app.status is FileStatus.MODIFIED
    # "new first" pushed everything down one line: line five is now line 6, tail is line 12
    assert list(app.added_lines) == [1, 6, 12]
    assert app.head_text().splitlines()[5] == "line five"
    assert app.base_bytes() == BASE_FILES["app.py"].encode()
    renamed = files["docs/new name.md"]
    assert (renamed.status, renamed.old_path) == (FileStatus.RENAMED, "docs/old name.md")
    assert list(renamed.added_lines) == [7]
    assert renamed.base_bytes() == BASE_FILES["docs/old name.md"].encode()
    removed = files["gone.txt"]
    assert removed.status is FileStatus.REMOVED
    assert not removed.added_lines and removed.head_bytes() is None
    assert removed.base_bytes() == b"bye\n"
    added = files["src/new.py"]
    assert added.status is FileStatus.ADDED
    assert list(added.added_lines) == [1, 2, 3]
    assert added.head_bytes() == b"a = 1\nb = 2\nc = 3"
    assert added.size == len(b"a = 1\nb = 2\nc = 3")
    assert change.skipped == []


def test_worktree_includes_committed_uncommitted_and_untracked_but_not_ignored(repo: GitRepo) -> None:
    repo.commit({"committed.py": "x = 1\n"}, "on the branch")
    repo.write("app.py", BASE_FILES["app.py"] + "uncommitted\n")
    repo.write(".gitignore", "*.log\nbuild/\n")
    repo.write("notes/untracked.md", "one\ntwo\n")
    repo.write("debug.log", "ignored\n")
    repo.write("build/out.js", "ignored too\n")

    change = change_from_git(repo.path)

    assert change.head == "worktree"
    files = by_path(change)
    assert set(files) == {"committed.py", "app.py", ".gitignore", "notes/untracked.md"}
    assert list(files["app.py"].added_lines) == [11]
    assert files["notes/untracked.md"].status is FileStatus.ADDED
    assert list(files["notes/untracked.md"].added_lines) == [1, 2]
    assert files["notes/untracked.md"].head_bytes() == b"one\ntwo\n"
    # the working tree is read as it is now, not as committed
    repo.write("committed.py", "x = 2\n")
    assert by_path(change_from_git(repo.path))["committed.py"].head_bytes() == b"x = 2\n"


def test_merge_base_excludes_what_the_default_branch_gained(repo: GitRepo) -> None:
    repo.commit({"mine.py": "mine\n"}, "feature")
    repo.switch("main")
    repo.commit({"theirs.py": "theirs\n"}, "main moved on")
    repo.switch("feature")

    change = change_from_git(repo.path)

    assert set(by_path(change)) == {"mine.py"}


def test_staged_scans_the_index_only(repo: GitRepo) -> None:
    repo.write("app.py", BASE_FILES["app.py"] + "staged line\n")
    repo.add("app.py")
    repo.write("app.py", BASE_FILES["app.py"] + "staged line\nunstaged line\n")
    repo.write("untracked.py", "not staged\n")
    head = repo.head()

    change = change_from_git(repo.path, staged=True)

    assert (change.base, change.head) == (head, "index")
    files = by_path(change)
    assert set(files) == {"app.py"}
    assert list(files["app.py"].added_lines) == [11]
    assert files["app.py"].head_bytes() == (BASE_FILES["app.py"] + "staged line\n").encode()


def test_staged_works_before_the_first_commit(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "fresh")
    repo.write("first.py", "print('hello')\n")
    repo.add("first.py")

    change = change_from_git(repo.path, staged=True)

    assert change.base == EMPTY_TREE
    assert [(f.path, f.status, list(f.added_lines)) for f in change.files] == [
        ("first.py", FileStatus.ADDED, [1])
    ]


def test_binary_files_are_recognised(repo: GitRepo) -> None:
    repo.write("model.bin", b"\x00\x01\x02weights" * 100)
    repo.commit(message="binary")
    repo.write("blob.dat", b"PK\x03\x04\x00\x00zip-ish")  # untracked binary

    files = by_path(change_from_git(repo.path))

    for path in ("model.bin", "blob.dat"):
        assert files[path].is_binary
        assert files[path].head_text() is None
        # a binary file changes as a whole: findings about it sit on line 1
        assert list(files[path].added_lines) == [1]
    assert files["model.bin"].head_bytes().startswith(b"\x00\x01\x02")


def test_gitattributes_cannot_hide_text_by_declaring_it_binary(repo: GitRepo) -> None:
    repo.commit({".gitattributes": "*.py -diff\n"}, "mark python as binary for diffs")
    repo.write("app.py", BASE_FILES["app.py"].replace("line 3\n", "line three\n"))
    repo.write("new.py", "one\ntwo\n")
    repo.commit(message="edits git would show as binary")

    files = by_path(change_from_git(repo.path))

    assert not files["app.py"].is_binary and list(files["app.py"].added_lines) == [3]
    assert not files["new.py"].is_binary and list(files["new.py"].added_lines) == [1, 2]


def test_symlinks_are_recognised_and_never_followed(repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOP SECRET\n")
    repo.symlink("committed-link", str(outside))
    repo.commit(message="a symlink out of the repository")
    repo.symlink("untracked-link", str(outside))

    change = change_from_git(repo.path)
    files = by_path(change)

    for path in ("committed-link", "untracked-link"):
        assert files[path].is_symlink
        assert files[path].head_bytes() is None
        assert files[path] not in change.scannable()
    committed = change_from_git(repo.path, head="HEAD")
    assert by_path(committed)["committed-link"].is_symlink
    assert by_path(committed)["committed-link"].head_bytes() is None


def test_reading_refuses_to_follow_links(repo: GitRepo, tmp_path: Path) -> None:
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "f.txt").write_text("outside\n")
    repo.symlink("linkdir", str(outside_dir))
    repo.symlink("link.txt", str(outside_dir / "f.txt"))
    root = os.path.realpath(repo.path)

    with pytest.raises(OSError):  # a symlinked directory on the way is never followed (ENOTDIR/ELOOP)
        read_worktree_file(root, "linkdir/f.txt")
    with pytest.raises(OSError):
        read_worktree_file(root, "link.txt")


def test_oversize_files_are_skipped_and_reported(repo: GitRepo) -> None:
    repo.write("big.txt", "x" * (3 * 1024 * 1024 + 300_000))
    repo.commit(message="big committed file")
    repo.write("medium.txt", "y" * 5000)  # untracked, over the small cap below

    change = change_from_git(repo.path)

    assert "big.txt" not in by_path(change)
    assert [s.to_dict() for s in change.skipped] == [
        {"path": "big.txt", "reason": "larger than the 1 MiB size cap (3.3 MiB)"}
    ]
    small_cap = change_from_git(repo.path, max_file_bytes=4096)
    assert {s.path: s.reason for s in small_cap.skipped} == {
        "big.txt": "larger than the 4 KiB size cap (3.3 MiB)",
        "medium.txt": "larger than the 4 KiB size cap (4.9 KiB)",
    }
    assert "medium.txt" not in by_path(small_cap)
    committed = change_from_git(repo.path, head="HEAD")
    assert [s.path for s in committed.skipped] == ["big.txt"]


def test_submodules_and_nested_repositories_are_reported_as_skipped(repo: GitRepo, tmp_path: Path) -> None:
    inner = GitRepo.init(repo.path / "vendor" / "inner")
    inner.commit({"lib.py": "x = 1\n"}, "inner")  # an untracked nested repository
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{inner.head()},modules/sub")  # a gitlink
    repo.git("commit", "--quiet", "-m", "add a submodule")
    (repo.path / "modules" / "sub").mkdir(parents=True)  # a submodule that is not checked out

    change = change_from_git(repo.path)

    assert {s.path: s.reason for s in change.skipped} == {
        "modules/sub": "submodule commit (its contents are not scanned)",
        "vendor/inner": "nested git repository (not scanned)",
    }
    assert change.files == []
    committed = change_from_git(repo.path, head="HEAD")
    assert [s.path for s in committed.skipped] == ["modules/sub"]


def test_odd_file_names(repo: GitRepo) -> None:
    names = ["with space.py", "ünïcödé/файл.py", "new\nline.py", 'quote"tab\t.py', "-dash.py"]
    for name in names:
        repo.write(name, "first\n")
    repo.commit(message="odd names")
    for name in names:
        repo.write(name, "first\nsecond\n")

    for change in (change_from_git(repo.path), change_from_git(repo.path, base_ref="feature")):
        files = by_path(change)
        assert set(files) == set(names)
        for name in names:
            assert files[name].head_bytes() == b"first\nsecond\n"
    modified = by_path(change_from_git(repo.path, base_ref="feature"))
    assert all(list(modified[name].added_lines) == [2] for name in names)


def test_detached_head(repo: GitRepo) -> None:
    repo.commit({"detached.py": "d\n"}, "on feature")
    repo.git("switch", "--quiet", "--detach", "HEAD")

    assert set(by_path(change_from_git(repo.path))) == {"detached.py"}


def test_default_base_ref_prefers_origin_head_then_main_then_master(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "r", branch="master")
    first = repo.commit({"a": "a\n"}, "first")
    assert default_base_ref(str(repo.path)) == "master"
    repo.git("branch", "main")
    assert default_base_ref(str(repo.path)) == "main"
    repo.git("update-ref", "refs/remotes/origin/trunk", first)
    repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert default_base_ref(str(repo.path)) == "origin/trunk"


def test_clear_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not a git repository"):
        change_from_git(plain)
    with pytest.raises(GitError, match="no such directory"):
        change_from_git(tmp_path / "missing")
    empty = GitRepo.init(tmp_path / "empty")
    with pytest.raises(GitError, match="no commits yet"):
        change_from_git(empty.path)
    other = GitRepo.init(tmp_path / "other", branch="trunk")
    other.commit({"a": "a\n"}, "first")
    with pytest.raises(GitError, match="no default branch") as exc:
        change_from_git(other.path)
    assert "\n" not in str(exc.value)
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        change_from_git(other.path, base_ref="nope")


def test_parse_added_lines_handles_deletions_and_plus_lines() -> None:
    patch = (
        b"diff --git a/f.py b/f.py\n"
        b"index 1..2 100644\n"
        b"--- a/f.py\n"
        b"+++ b/f.py\n"
        b"@@ -3 +2,0 @@\n"
        b"-removed\n"
        b"@@ -9,0 +9,2 @@\n"
        b"+++ an added line that starts with two pluses\n"
        b"+diff --git is only a header at the start of a line\n"
        b"@@ -20 +21 @@\n"
        b"-old\n"
        b"+new\n"
        b'diff --git "a/sp\\303\\251cial\\tname" "b/sp\\303\\251cial\\tname"\n'
        b'--- "a/sp\\303\\251cial\\tname"\n'
        b'+++ "b/sp\\303\\251cial\\tname"\n'
        b"@@ -1 +1 @@\n"
        b"-a\n"
        b"+b\n"
        b"diff --git a/gone b/gone\n"
        b"deleted file mode 100644\n"
        b"--- a/gone\n"
        b"+++ /dev/null\n"
        b"@@ -1 +0,0 @@\n"
        b"-x\n"
    )
    result = parse_added_lines(patch)
    assert {path: list(lines) for path, lines in result.items()} == {
        "f.py": [9, 10, 21],
        "spécial\tname": [1],
    }


def test_unquote_undoes_git_c_quoting() -> None:
    assert unquote(b'"a\\tb\\n\\"q\\"\\\\\\303\\251"') == b'a\tb\n"q"\\\xc3\xa9'
    assert unquote(b"plain name") == b"plain name"
