"""bot.github.pull_change: a PR's Change from the double's files and contents APIs, over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.github.client import GitHubApp, GitHubOptions
from bot.github.pull_change import FetchOptions, FetchStats, HeadMoved, build_change
from checks.change import ChangedFile, FileStatus
from checks.diff import added_lines_by_diff, added_lines_from_patch
from tests.github_double.double import GitHubDouble
from tests.github_double.state import Submodule, Symlink


def app_for(double: GitHubDouble) -> GitHubApp:
    return GitHubApp(GitHubOptions(app_id=double.app_id, private_key=double.private_key_pem,
                                   api_url=double.base_url, server_error_delays=(0.05, 0.1)))


def everything(_file: ChangedFile) -> bool:
    return True


async def change_for(double: GitHubDouble, inst: int, pr: Any, wants: Any = everything,
                     options: FetchOptions | None = None, stats: FetchStats | None = None) -> Any:
    gh = app_for(double).installation(inst)
    async with gh:
        return await build_change(gh, "octo", "repo", pr_number=pr.number, base_sha=pr.base_sha,
                                  head_sha=pr.head_sha, wants=wants, options=options, stats=stats)


def repo(double: GitHubDouble, files: dict[str, bytes] | None = None) -> int:
    inst = double.add_installation("octo")
    double.add_repo("octo/repo", installation_id=inst, files=files or {"README.md": b"hi\n"})
    return inst


def test_patch_parsing_counts_head_side_lines_only() -> None:
    patch = (
        "@@ -1,3 +1,4 @@\n"
        " keep\n"
        "-gone\n"
        "+new two\n"
        "+new three\n"
        " keep four\n"
        "@@ -10,2 +11,3 @@ def f():\n"
        " ctx\n"
        "+added twelve\n"
        " ctx\n"
        "\\ No newline at end of file"
    )
    assert list(added_lines_from_patch(patch)) == [2, 3, 12]
    assert list(added_lines_from_patch("@@ -0,0 +1 @@\n+only\n")) == [1]


def test_local_diff_finds_new_and_changed_lines() -> None:
    base = b"a\nb\nc\nd\n"
    head = b"a\nB\nc\nd\ne\nf\n"
    assert list(added_lines_by_diff(base, head)) == [2, 5, 6]
    assert list(added_lines_by_diff(None, b"x\ny")) == [1, 2]


async def test_statuses_lines_and_contents(github_double: GitHubDouble) -> None:
    inst = repo(github_double, {"README.md": b"hi\n", "src/old_name.py": b"print('x')\n"})
    pr = github_double.create_pull_request("octo/repo", changes={
        "app.py": (b"x = 1\ny = 2\n", b"x = 1\ntoken = 'abc'\ny = 2\n"),
        "new.txt": (None, b"hello\nworld\n"),
        "old.txt": (b"bye\n", None),
        "logo.png": (None, b"\x89PNG\r\n\x1a\n\x00\x00binary"),
    }, renames={"src/new_name.py": "src/old_name.py"})
    change = await change_for(github_double, inst, pr)
    files = {f.path: f for f in change.files}
    assert files["app.py"].status is FileStatus.MODIFIED and list(files["app.py"].added_lines) == [2]
    assert files["app.py"].head_text() == "x = 1\ntoken = 'abc'\ny = 2\n"
    assert files["new.txt"].status is FileStatus.ADDED and list(files["new.txt"].added_lines) == [1, 2]
    assert files["old.txt"].status is FileStatus.REMOVED and files["old.txt"].head_bytes() is None
    assert files["src/new_name.py"].status is FileStatus.RENAMED
    assert files["src/new_name.py"].old_path == "src/old_name.py"
    assert not files["src/new_name.py"].added_lines
    logo = files["logo.png"]
    assert logo.is_binary and logo.head_text() is None and logo.head_bytes().startswith(b"\x89PNG")
    assert change.head == pr.head_sha and change.base == pr.base_sha and change.skipped == []


async def test_only_files_a_check_wants_are_fetched(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={
        f"docs/{i}.md": (None, b"doc\n") for i in range(5)
    } | {"src/app.py": (None, b"code\n")})
    stats = FetchStats()
    change = await change_for(github_double, inst, pr, wants=lambda f: f.path.endswith(".py"), stats=stats)
    assert len(change.files) == 6
    content_requests = github_double.requests(method="GET", path_regex=r"/contents/")
    assert [r.path.rsplit("/contents/", 1)[1] for r in content_requests] == ["src/app.py"]
    assert stats.files_fetched == 1
    assert next(f for f in change.files if f.path == "docs/0.md").head_bytes() is None


async def test_missing_patch_falls_back_to_a_local_diff(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    base = b"".join(b"line %d\n" % i for i in range(1, 400))
    head = base.replace(b"line 100\n", b"line 100 changed\n") + b"appended\n"
    pr = github_double.create_pull_request("octo/repo", changes={
        "big.txt": (base, head), "fresh.txt": (None, b"".join(b"n%d\n" % i for i in range(300))),
    })
    github_double.max_patch_bytes = 100  # GitHub omits the patch of a diff too large to show
    change = await change_for(github_double, inst, pr)
    files = {f.path: f for f in change.files}
    assert list(files["big.txt"].added_lines) == [100, 400]
    assert files["big.txt"].base_bytes() == base
    assert len(files["fresh.txt"].added_lines) == 300


async def test_files_over_the_size_cap_are_skipped_with_a_reason(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={
        "huge.json": (None, b"x" * 5000), "small.txt": (None, b"ok\n"),
    })
    change = await change_for(github_double, inst, pr, options=FetchOptions(max_file_bytes=4096))
    files = {f.path: f for f in change.files}
    assert files["huge.json"].head_bytes() is None and files["huge.json"].size == 5000
    assert [(s.path, s.reason) for s in change.skipped] == [
        ("huge.json", "larger than 4096 bytes (5000 bytes); not fetched")
    ]
    assert files["small.txt"].head_bytes() == b"ok\n"


async def test_files_over_1mb_come_from_the_blobs_api(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    data = b"0123456789abcdef\n" * 70_000  # ~1.2 MB: the contents API sends no content above 1 MB
    pr = github_double.create_pull_request("octo/repo", changes={"data/big.txt": (None, data)})
    change = await change_for(github_double, inst, pr, options=FetchOptions(max_file_bytes=2 * 1024 * 1024))
    assert change.files[0].head_bytes() == data
    assert github_double.requests(method="GET", path_regex=r"/git/blobs/")


async def test_all_pages_are_listed_and_contents_fetched_with_bounded_concurrency(
    github_double: GitHubDouble,
) -> None:
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={
        f"src/f{i:03}.py": (None, b"v = %d\n" % i) for i in range(250)
    })
    change = await change_for(github_double, inst, pr, wants=lambda f: f.path < "src/f006")
    assert len(change.files) == 250
    assert len(github_double.requests(method="GET", path_regex=r"/files$")) == 3  # 100 per page
    # six slow contents requests with two in flight at most take three rounds
    github_double.faults.slow(0.3, method="GET", path_regex=r"/contents/", times=None)
    started = time.monotonic()
    change = await change_for(github_double, inst, pr, wants=lambda f: f.path < "src/f006",
                              options=FetchOptions(concurrency=2))
    assert time.monotonic() - started >= 0.9
    assert [f.head_bytes() for f in change.files[:6]] == [b"v = %d\n" % i for i in range(6)]


async def test_more_files_than_github_lists_are_reported_as_skipped(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={
        f"f/{i:04}.txt": (None, b"x\n") for i in range(3005)
    })
    gh = app_for(github_double).installation(inst)
    stats = FetchStats()
    async with gh:
        change = await build_change(gh, "octo", "repo", pr_number=pr.number, base_sha=pr.base_sha,
                                    head_sha=pr.head_sha, wants=lambda f: False, changed_files_total=3005,
                                    stats=stats)
    assert len(change.files) == 3000
    assert stats.extra["unlisted"] == 5, "the pipeline fails the runs on this count"
    assert [s.path for s in change.skipped] == ["(5 more files)"]
    assert "at most 3000 files" in change.skipped[0].reason


async def test_file_names_with_hash_question_mark_percent_and_unicode_are_fetched(
    github_double: GitHubDouble,
) -> None:
    # githubkit's App auth hook used to rebuild the path decoded: `#`/`?` made every contents request fail
    names = ["notes #1.md", "what?.txt", "100%.cfg", "docs/naïve café.md", "a+b&c=d.txt"]
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={n: (None, f"{n}\n".encode()) for n in names})
    change = await change_for(github_double, inst, pr)
    files = {f.path: f for f in change.files}
    assert change.skipped == []
    for name in names:
        assert files[name].head_text() == f"{name}\n"
        assert list(files[name].added_lines) == [1]


async def test_symlinks_are_never_followed_and_listed_with_submodules_as_not_scanned(
    github_double: GitHubDouble,
) -> None:
    inst = repo(github_double, {"README.md": b"hi\n", "secrets/real.env": b"TOKEN=abc\n"})
    pr = github_double.create_pull_request("octo/repo", changes={
        "inside.env": (None, Symlink(b"secrets/real.env")),     # GitHub answers with the target's content
        "outside.env": (None, Symlink(b"../../etc/passwd")),    # GitHub answers type "symlink"
        "vendor/lib": (None, Submodule(b"a" * 40)),             # GitHub answers type "submodule"
        "ok.py": (None, b"x = 1\n"),
    })
    change = await change_for(github_double, inst, pr)
    files = {f.path: f for f in change.files}
    for link in ("inside.env", "outside.env"):
        assert files[link].is_symlink and files[link].head_bytes() is None
    assert files["ok.py"].head_text() == "x = 1\n"
    assert {s.path: s.reason for s in change.skipped} == {
        "inside.env": "symlink to `secrets/real.env`; never followed",
        "outside.env": "symlink to `../../etc/passwd`; never followed",
        "vendor/lib": "not a regular file (submodule)",
    }


async def test_a_push_landing_mid_job_is_detected_from_the_files_list(github_double: GitHubDouble) -> None:
    inst = repo(github_double)
    pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
    old_head = pr.head_sha
    new_head = github_double.push("octo/repo", pr.number, {"b.py": b"y = 2\n"})
    gh = app_for(github_double).installation(inst)
    async with gh:
        with pytest.raises(HeadMoved) as caught:
            await build_change(gh, "octo", "repo", pr_number=pr.number, base_sha=pr.base_sha,
                               head_sha=old_head, wants=everything)
    assert (caught.value.scanning, caught.value.listed) == (old_head, new_head)
    assert not github_double.requests(path_regex=r"/contents/"), "no contents read at a mixed-up head"
