# ruff: noqa: E501 - the fixtures are lockfiles as the tools write them: hashes and URLs make long lines
"""PyPI dependency files parsed statically: requirements files (with includes, hashes, options, VCS and URL
requirements), pyproject.toml (PEP 621, PEP 735, Poetry), poetry.lock, uv.lock, Pipfile.lock, pylock.toml."""

from __future__ import annotations

import pytest

from checks.dependencies.model import PYPI, ParseError
from tests.dep_sources_util import by_name, dedent, line_of, parse

REQUIREMENTS = dedent("""
    # Production requirements, compiled by pip-compile
    --index-url https://pypi.org/simple
    --extra-index-url https://pkgs.internal.example/simple
    --trusted-host pkgs.internal.example
    --require-hashes
    -r requirements/base.txt
    -c constraints.txt

    requests==2.31.0 \\
        --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f \\
        --hash=sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1
        # via -r requirements.in
    flask>=2.3,<3 ; python_version >= "3.8"
    uvicorn[standard]==0.24.0.post1
    black @ git+https://github.com/psf/black@main
    -e git+https://github.com/acme/tool.git@3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f70#egg=acme-tool
    https://files.example.com/packages/legacy_pkg-1.0.0.tar.gz#sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
""")


def test_requirements_packages_settings_and_includes() -> None:
    siblings = {
        "requirements/base.txt": "six==1.16.0  # pinned\n-r ../requirements.txt\n-r ../../outside.txt\n",
        "constraints.txt": "urllib3==2.0.7\n",
    }
    parsed = parse("requirements.txt", REQUIREMENTS, siblings)
    pkgs = by_name(parsed)
    assert parsed.ecosystem == PYPI and not parsed.lockfile
    req = pkgs["requests"]
    assert req.version == "2.31.0" and req.line == line_of(REQUIREMENTS, "requests==2.31.0")
    assert len(req.extra["hashes"]) == 2 and req.direct
    flask = pkgs["flask"]
    assert flask.version is None and flask.spec == "<3,>=2.3" and "python_version" in flask.extra["markers"]
    assert pkgs["uvicorn"].version == "0.24.0.post1" and pkgs["uvicorn"].extra["extras"] == ["standard"]
    black = pkgs["black"]
    assert black.version is None and black.source == "git+https://github.com/psf/black@main"
    assert black.extra["vcs_ref"] == "main"
    tool = pkgs["acme-tool"]
    assert tool.extra["editable"] and tool.extra["vcs_ref"].startswith("3f1c2b7a")
    legacy = pkgs["legacy_pkg"]
    assert legacy.source.startswith("https://files.example.com/") and legacy.extra["url_hash"].startswith("sha256:")
    six = pkgs["six"]
    assert six.path == "requirements/base.txt" and six.line == 1 and six.version == "1.16.0"
    assert pkgs["urllib3"].extra["constraint"] is True and pkgs["urllib3"].path == "constraints.txt"
    assert parsed.includes == ("requirements/base.txt", "constraints.txt")  # the cycle back is not followed
    kinds = [(s.kind, s.value, s.line, s.path) for s in parsed.settings]
    assert ("index-url", "https://pypi.org/simple", 2, "") in kinds
    assert ("extra-index-url", "https://pkgs.internal.example/simple", 3, "") in kinds
    assert ("trusted-host", "pkgs.internal.example", 4, "") in kinds
    assert ("require-hashes", "true", 5, "") in kinds
    assert ("outside-include", "../../outside.txt", 3, "requirements/base.txt") in kinds


def test_requirements_hashes_stay_on_their_own_line() -> None:
    text = dedent("""
        alpha==1.0 --hash=sha256:aaaa --hash=sha256:bbbb
        beta==2.0 \\
            --hash=sha256:cccc
        gamma==3.0
        delta==4.0 --hash=sha256:dddd --global-option=--verbose
    """)
    pkgs = by_name(parse("requirements.txt", text))
    assert pkgs["alpha"].extra["hashes"] == ["sha256:aaaa", "sha256:bbbb"]
    assert pkgs["beta"].extra["hashes"] == ["sha256:cccc"] and pkgs["beta"].line == 2
    assert "hashes" not in pkgs["gamma"].extra and pkgs["gamma"].integrity == ""
    assert pkgs["delta"].extra["hashes"] == ["sha256:dddd"]


def test_requirements_missing_include_is_reported_not_silent() -> None:
    parsed = parse("requirements-dev.txt", "-r requirements.txt\npytest==8.0.0\n")
    assert [(s.kind, s.value) for s in parsed.settings] == [("missing-include", "requirements.txt")]
    assert parsed.includes == ()


PYPROJECT = dedent('''
    [build-system]
    requires = ["hatchling"]
    build-backend = "hatchling.build"

    [project]
    name = "invoice-service"
    version = "0.4.0"
    requires-python = ">=3.10"
    dependencies = [
        "fastapi>=0.110",
        "pydantic==2.6.4",
        "langchain-experimental==0.0.49",
        "internal-sdk @ git+https://git.example.com/sdk.git@v1.2.0",
    ]

    [project.optional-dependencies]
    pdf = ["weasyprint==61.2"]

    [dependency-groups]
    dev = ["pytest>=8", {include-group = "lint"}]
    lint = ["ruff==0.3.4"]

    [tool.poetry.dependencies]
    python = "^3.10"
    httpx = "0.27.0"
    rich = { version = "^13.7", optional = true }
    toolkit = { git = "https://github.com/acme/toolkit.git", branch = "main" }

    [tool.poetry.group.test.dependencies]
    hypothesis = "^6.98"

    [[tool.poetry.source]]
    name = "internal"
    url = "https://pypi.internal.example/simple"
    priority = "supplemental"
''')


def test_pyproject_pep621_groups_and_poetry_tables() -> None:
    parsed = parse("pyproject.toml", PYPROJECT)
    pkgs = by_name(parsed)
    assert pkgs["pydantic"].version == "2.6.4" and pkgs["pydantic"].line == line_of(PYPROJECT, '"pydantic==')
    assert pkgs["fastapi"].version is None and pkgs["fastapi"].spec == ">=0.110"
    assert pkgs["internal-sdk"].source == "git+https://git.example.com/sdk.git@v1.2.0"
    assert pkgs["internal-sdk"].extra["vcs_ref"] == "v1.2.0"
    assert pkgs["weasyprint"].extra["group"] == "extra:pdf"
    assert pkgs["pytest"].extra["dev"] is True and pkgs["ruff"].version == "0.3.4"
    assert "python" not in pkgs
    assert pkgs["httpx"].version == "0.27.0" and pkgs["httpx"].line == line_of(PYPROJECT, 'httpx = "0.27.0"')
    assert pkgs["rich"].version is None and pkgs["rich"].extra["optional"] is True
    assert pkgs["toolkit"].source == "git+https://github.com/acme/toolkit.git@main"
    assert pkgs["hypothesis"].extra["group"] == "test" and pkgs["hypothesis"].extra["dev"] is True
    assert [(s.kind, s.value) for s in parsed.settings] == [("registry", "https://pypi.internal.example/simple")]


POETRY_PYPROJECT = dedent('''
    [tool.poetry]
    name = "app"
    version = "1.0.0"

    [tool.poetry.dependencies]
    python = "^3.11"
    langchain-experimental = "0.0.49"

    [tool.poetry.group.dev.dependencies]
    pytest = "^8.0"
''')

POETRY_LOCK = dedent('''
    # This file is automatically @generated by Poetry 1.8.2 and should not be changed by hand.

    [[package]]
    name = "iniconfig"
    version = "2.0.0"
    description = "brain-dead simple config-ini parsing"
    optional = false
    python-versions = ">=3.7"
    files = [
        {file = "iniconfig-2.0.0-py3-none-any.whl", hash = "sha256:b6a85871a79d2e3b22d2d1b94ac2824226a63c6b741c88f7ae975f18b6778374"},
        {file = "iniconfig-2.0.0.tar.gz", hash = "sha256:2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3"},
    ]

    [[package]]
    name = "langchain"
    version = "0.0.306"
    description = "Building applications with LLMs through composability"
    optional = false
    python-versions = ">=3.8.1,<4.0"
    files = [
        {file = "langchain-0.0.306-py3-none-any.whl", hash = "sha256:1b5a2f3d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b"},
    ]

    [package.dependencies]
    numpy = ">=1,<2"
    PyYAML = ">=5.3"

    [package.extras]
    all = ["numpy (>=1,<2)"]

    [[package]]
    name = "langchain-experimental"
    version = "0.0.49"
    description = "Building applications with LLMs through composability"
    optional = false
    python-versions = ">=3.8.1,<4.0"
    files = [
        {file = "langchain_experimental-0.0.49-py3-none-any.whl", hash = "sha256:aaaa"},
    ]

    [package.dependencies]
    langchain = ">=0.0.306"

    [[package]]
    name = "numpy"
    version = "1.26.4"
    description = "Fundamental package for array computing in Python"
    optional = false
    python-versions = ">=3.9"
    files = []

    [[package]]
    name = "pytest"
    version = "8.1.1"
    description = "pytest: simple powerful testing with Python"
    optional = false
    python-versions = ">=3.8"
    files = []

    [package.dependencies]
    iniconfig = "*"

    [[package]]
    name = "pyyaml"
    version = "6.0.1"
    description = "YAML parser and emitter for Python"
    optional = false
    python-versions = ">=3.6"
    files = []

    [package.source]
    type = "legacy"
    url = "https://pypi.internal.example/simple"
    reference = "internal"

    [metadata]
    lock-version = "2.0"
    python-versions = "^3.11"
    content-hash = "5e4a6c2f3b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
''')


def test_poetry_lock_graph_from_the_manifest_roots() -> None:
    parsed = parse("poetry.lock", POETRY_LOCK, {"pyproject.toml": POETRY_PYPROJECT})
    pkgs = by_name(parsed)
    assert parsed.lockfile and len(parsed.packages) == 6
    lc = pkgs["langchain"]
    assert lc.version == "0.0.306" and not lc.direct and lc.via == ("langchain-experimental",)
    assert lc.line == line_of(POETRY_LOCK, 'name = "langchain"')
    assert lc.integrity.startswith("sha256:1b5a2f3d")
    assert pkgs["langchain-experimental"].direct and pkgs["pytest"].direct
    assert pkgs["numpy"].via == ("langchain", "langchain-experimental")
    assert pkgs["pyyaml"].via == ("langchain", "langchain-experimental")  # `PyYAML` matched by PEP 503 name
    assert pkgs["iniconfig"].via == ("pytest",)
    assert pkgs["pyyaml"].source == "https://pypi.internal.example/simple"
    assert [(s.kind, s.value) for s in parsed.settings] == [("registry", "https://pypi.internal.example/simple")]


def test_poetry_lock_without_a_manifest_roots_are_the_undepended() -> None:
    pkgs = by_name(parse("poetry.lock", POETRY_LOCK))
    assert pkgs["langchain-experimental"].direct and pkgs["pytest"].direct and not pkgs["numpy"].direct


UV_LOCK = dedent('''
    version = 1
    requires-python = ">=3.12"

    [[package]]
    name = "anyio"
    version = "4.3.0"
    source = { registry = "https://pypi.org/simple" }
    dependencies = [
        { name = "idna" },
        { name = "sniffio" },
    ]
    sdist = { url = "https://files.pythonhosted.org/packages/anyio-4.3.0.tar.gz", hash = "sha256:f75253795a87df48568485fd18cdd2a3fa5c4f7c5be8e5e36637733fce06fed6", size = 159642 }
    wheels = [
        { url = "https://files.pythonhosted.org/packages/anyio-4.3.0-py3-none-any.whl", hash = "sha256:048e05d0f6caeed70d731f3db756d35dcc1f35747c8c403364a8332c630441b8", size = 85584 },
    ]

    [[package]]
    name = "idna"
    version = "3.7"
    source = { registry = "https://pypi.org/simple" }
    sdist = { url = "https://files.pythonhosted.org/packages/idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc", size = 189575 }

    [[package]]
    name = "invoice"
    version = "0.1.0"
    source = { editable = "." }
    dependencies = [
        { name = "anyio" },
        { name = "private-lib" },
    ]

    [package.dev-dependencies]
    dev = [
        { name = "pytest" },
    ]

    [[package]]
    name = "private-lib"
    version = "0.3.0"
    source = { git = "https://github.com/acme/private-lib?branch=main#4f2e1d3c5b6a79880f1e2d3c4b5a69788f7e6d5c" }

    [[package]]
    name = "pytest"
    version = "8.1.1"
    source = { registry = "https://pypi.org/simple" }
    sdist = { url = "https://files.pythonhosted.org/packages/pytest-8.1.1.tar.gz", hash = "sha256:ac978141a75948948817d360297b7aae0fcb9d6ff6bc9ec6d514b85d5a65c044", size = 1409703 }

    [[package]]
    name = "sniffio"
    version = "1.3.1"
    source = { registry = "https://pypi.internal.example/simple" }
    sdist = { url = "https://pypi.internal.example/files/sniffio-1.3.1.tar.gz", hash = "sha256:f4324edc670a0f49750a81b895f35c3adb843cca46f0530f79fc1babb23789dc", size = 20372 }
''')


def test_uv_lock_editable_root_graph_and_sources() -> None:
    parsed = parse("uv.lock", UV_LOCK)
    pkgs = by_name(parsed)
    assert "invoice" not in pkgs  # the project itself is not a dependency
    assert pkgs["anyio"].direct and pkgs["pytest"].direct and pkgs["private-lib"].direct
    assert pkgs["idna"].via == ("anyio", "invoice") and pkgs["sniffio"].via == ("anyio", "invoice")
    assert pkgs["idna"].line == line_of(UV_LOCK, 'name = "idna"', nth=1)
    assert pkgs["anyio"].integrity.split() == ["sha256:f75253795a87df48568485fd18cdd2a3fa5c4f7c5be8e5e36637733fce06fed6",
                                               "sha256:048e05d0f6caeed70d731f3db756d35dcc1f35747c8c403364a8332c630441b8"]
    assert pkgs["private-lib"].source.startswith("git+https://github.com/acme/private-lib")
    assert pkgs["private-lib"].extra["vcs_ref"] == "4f2e1d3c5b6a79880f1e2d3c4b5a69788f7e6d5c"
    assert {(s.kind, s.value) for s in parsed.settings} == {
        ("registry", "https://pypi.org"), ("registry", "https://pypi.internal.example")}


PIPFILE_LOCK = dedent("""
    {
        "_meta": {
            "hash": {
                "sha256": "b8c2f9d3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1"
            },
            "pipfile-spec": 6,
            "requires": {
                "python_version": "3.11"
            },
            "sources": [
                {
                    "name": "pypi",
                    "url": "https://pypi.org/simple",
                    "verify_ssl": true
                },
                {
                    "name": "internal",
                    "url": "http://pypi.internal.example/simple",
                    "verify_ssl": false
                }
            ]
        },
        "default": {
            "certifi": {
                "hashes": [
                    "sha256:9b469f3a900bf28dc19b8cfbf8019bf47f7fdd1a65a1d4ffb98fc14166beb4d1"
                ],
                "markers": "python_version >= '3.6'",
                "version": "==2024.2.2"
            },
            "requests": {
                "hashes": [
                    "sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"
                ],
                "index": "pypi",
                "version": "==2.31.0"
            }
        },
        "develop": {
            "pytest": {
                "hashes": [
                    "sha256:2a8386cfc11fa9d2c50ee7b2a57e7d898ef90470a7a34c4b949ff59662bb78b7"
                ],
                "version": "==8.0.2"
            }
        }
    }
""")


def test_pipfile_lock_sections_hashes_and_sources() -> None:
    pipfile = '[packages]\nrequests = "*"\n\n[dev-packages]\npytest = "*"\n'
    parsed = parse("Pipfile.lock", PIPFILE_LOCK, {"Pipfile": pipfile})
    pkgs = by_name(parsed)
    assert pkgs["requests"].version == "2.31.0" and pkgs["requests"].direct
    assert pkgs["certifi"].version == "2024.2.2" and not pkgs["certifi"].direct
    assert pkgs["certifi"].line == line_of(PIPFILE_LOCK, '"certifi": {')
    assert pkgs["pytest"].extra["dev"] is True and pkgs["pytest"].line == line_of(PIPFILE_LOCK, '"pytest": {')
    kinds = {(s.kind, s.value) for s in parsed.settings}
    assert ("extra-index-url", "http://pypi.internal.example/simple") in kinds
    assert ("trusted-host", "http://pypi.internal.example") in kinds


PYLOCK = dedent('''
    lock-version = "1.0"
    environments = ["sys_platform == 'linux'"]
    requires-python = ">=3.12"
    created-by = "pip"

    [[packages]]
    name = "attrs"
    version = "23.2.0"
    requires-python = ">=3.7"
    index = "https://pypi.org/simple"

    [[packages.wheels]]
    name = "attrs-23.2.0-py3-none-any.whl"
    upload-time = 2023-12-31T06:30:30.772444Z
    url = "https://files.pythonhosted.org/packages/attrs-23.2.0-py3-none-any.whl"
    size = 60752
    hashes = {sha256 = "99b87a485a5820b23b879f04c2305b44b951b502fd64be915879d77a7e8fc6f1"}

    [[packages]]
    name = "cattrs"
    version = "23.2.3"
    index = "https://pypi.org/simple"
    dependencies = [{name = "attrs"}]

    [[packages.wheels]]
    url = "https://files.pythonhosted.org/packages/cattrs-23.2.3-py3-none-any.whl"
    hashes = {sha256 = "0341994d94971052e9ee70662542699a3162ea1e0c62f7ce1b4a57f563685108"}

    [[packages]]
    name = "numpy"
    vcs = {type = "git", url = "https://github.com/numpy/numpy.git", requested-revision = "main", commit-id = "b4b5f0a6a8a3e7d1c2f9e8d7c6b5a4f3e2d1c0b9"}
''')


def test_pylock_toml_entries_hashes_and_vcs() -> None:
    parsed = parse("pylock.toml", PYLOCK)
    pkgs = by_name(parsed)
    assert pkgs["attrs"].version == "23.2.0" and pkgs["attrs"].via == ("cattrs",) and not pkgs["attrs"].direct
    assert pkgs["attrs"].line == line_of(PYLOCK, 'name = "attrs"')
    assert pkgs["attrs"].integrity == "sha256:99b87a485a5820b23b879f04c2305b44b951b502fd64be915879d77a7e8fc6f1"
    assert pkgs["cattrs"].direct and pkgs["cattrs"].line == line_of(PYLOCK, 'name = "cattrs"')
    assert pkgs["numpy"].version is None and pkgs["numpy"].source == "git+https://github.com/numpy/numpy.git"
    assert pkgs["numpy"].extra["vcs_ref"] == "b4b5f0a6a8a3e7d1c2f9e8d7c6b5a4f3e2d1c0b9"


def test_undecodable_and_oversized_files_are_refused() -> None:
    from checks.dependencies.sources import _common, source_for

    source = source_for("requirements.txt")
    with pytest.raises(ParseError) as err:
        source.parse("requirements.txt", b"six==1.16.0\nbad\xff==1\n", lambda p: None)
    assert err.value.line == 2
    with pytest.raises(ParseError, match="limit"):
        source.parse("requirements.txt", b"#" * (_common.MAX_BYTES + 1), lambda p: None)


@pytest.mark.parametrize(("path", "text", "line"), [
    ("requirements.txt", "requests==2.31.0\nflask>=>2\n", 2),
    ("requirements.txt", "requests==2.31.0\n--no-such-option x\n", 2),
    ("pyproject.toml", '[project]\ndependencies = [\n  "ok==1",\n  "bad spec ==",\n]\n', 4),
    ("pyproject.toml", "[project\nname = 'x'\n", 1),
    ("poetry.lock", '[[package]]\nname = "a"\nversion = "1"\n[[package]]\nname = \n', 5),
    ("uv.lock", 'version = 1\npackage = "oops"\n', None),
    ("Pipfile.lock", '{\n  "default": {\n    "a": 1\n  }\n}\n', None),
    ("pylock.toml", 'lock-version = "1.0"\n[[packages]]\nversion = "1"\n', 2),
])
def test_malformed_python_files_raise_parse_errors(path: str, text: str, line: int | None) -> None:
    with pytest.raises(ParseError) as err:
        parse(path, text)
    if line is not None:
        assert err.value.line == line


def test_large_poetry_lock_every_line_points_at_its_own_entry() -> None:
    blocks = []
    for i in range(500):
        deps = "".join(f'pkg-{j} = ">=1"\n' for j in range(i + 1, min(i + 3, 500)))
        blocks.append(f'[[package]]\nname = "pkg-{i}"\nversion = "1.0.{i}"\noptional = false\nfiles = []\n'
                      + (f"\n[package.dependencies]\n{deps}" if deps else "") + "\n")
    text = "".join(blocks) + '[metadata]\nlock-version = "2.0"\n'
    parsed = parse("poetry.lock", text)
    rows = text.splitlines()
    assert len(parsed.packages) == 500
    for p in parsed.packages:
        assert rows[p.line - 1] == f'name = "{p.name}"' and rows[p.line] == f'version = "{p.version}"'
    # each pkg-i depends on pkg-(i+1) and pkg-(i+2): the shortest path to pkg-6 skips every other one
    assert by_name(parsed)["pkg-6"].via == ("pkg-4", "pkg-2", "pkg-0")
    assert by_name(parsed)["pkg-0"].direct and not by_name(parsed)["pkg-1"].direct
