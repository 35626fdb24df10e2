"""Model artifacts: the corpus through the real prompt-safety check, bombs bounded, LFS pointers, integrity
(sha256 beside the file, OpenSSF model-signing bundles signed in the test), and streaming of files over the
size cap through `prguard scan` on a real git repository. Nothing here unpickles or loads a model."""

from __future__ import annotations

import hashlib
import io
import resource
import time
from pathlib import Path

import pytest

from checks.change import Change, ChangedFile, FileStatus, LineSet
from checks.context import CheckContext
from checks.policy import CheckPolicy
from checks.prompt_safety import models as model_pkg
from checks.prompt_safety.models import pickle_walk
from checks.prompt_safety.models.pickle import scan_bytes
from tests.ai_corpus import models as corpus
from tests.ai_corpus import run, score
from tests.gitrepo import GitRepo
from tests.scanning import scan_json

PS = "prompt-safety/"


@pytest.fixture(scope="module")
def outcomes():
    found, results = run(corpus.CASES)
    assert [r.error for r in results if r.error] == []
    return {o.case.path: o for o in found}


@pytest.mark.parametrize("case", corpus.CASES, ids=lambda c: c.path)
def test_corpus_case(outcomes, case):
    o = outcomes[case.path]
    if case.malicious:
        assert o.caught, (case.note, [(f.rule_id, f.severity) for f in o.findings])
    else:
        assert not o.flagged, (case.note, [(f.rule_id, f.message) for f in o.findings])


def test_corpus_scores_and_severities(outcomes):
    s = score(list(outcomes.values()))["model"]
    assert (s.fn, s.fp) == (0, 0)
    sev = {p: {f.rule_id: f.severity.value for f in o.findings if "/model-" in f.rule_id}
           for p, o in outcomes.items()}
    assert sev["models/p4_os_system.pkl"][PS + "model-pickle-dangerous-global"] == "critical"
    assert sev["models/p4_os_system.pkl"][PS + "model-pickle-format"] == "medium"
    assert sev["models/unknown.pkl"] == {PS + "model-pickle-unknown-global": "high",
                                         PS + "model-pickle-format": "medium"}
    assert sev["models/dynamic.pkl"][PS + "model-pickle-dynamic-import"] == "critical"
    f = next(f for f in outcomes["models/memo_binget.pkl"].findings if "dangerous" in f.rule_id)
    assert "'os.system'" in f.message and f.line == 0 and f.metadata["owasp"] == "LLM03"


def test_allowlisted_torch_pickle_is_medium_only():
    data = corpus.torch_zip(corpus.TORCH_STATE)
    found, _ = run([corpus.Case("model", "weights/model.pt", data, False, "benign state dict")])
    got = [(f.rule_id, f.severity.value) for f in found[0].findings if "/model-" in f.rule_id]
    assert got == [(PS + "model-pickle-format", "medium")]
    assert all(f.severity.value in ("medium", "info") for f in found[0].findings)
    assert "safetensors" in next(f for f in found[0].findings if "/model-" in f.rule_id).remediation


def test_policy_allow_makes_own_class_pass_but_never_a_dangerous_one():
    unknown = corpus.p4(corpus.stack_global("mypkg.models", "Net") + corpus.EMPTY_TUPLE + corpus.REDUCE)
    assert scan_bytes(unknown, "a.pkl", allow=("mypkg.*",)).findings == []
    allowed_all = scan_bytes(corpus.OS_SYSTEM_P4, "a.pkl", allow=("os.*", "*"))
    assert allowed_all.findings[0].severity.value == "critical"


def test_pickle_bomb_is_bounded_in_time_and_memory(monkeypatch):
    monkeypatch.setattr(pickle_walk, "MAX_MEMO", 200_000)
    bomb = corpus.proto(4) + (corpus.ustr("x") + corpus.MEMOIZE) * 300_000 + corpus.STOP
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    found = scan_bytes(bomb, "bomb.pkl")
    assert time.perf_counter() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert [f.rule_id for f in found.findings] == [PS + "model-pickle-unreadable"]
    assert "too complex" in found.findings[0].message


def test_huge_declared_argument_is_skipped_not_read():
    data = corpus.proto(4) + b"\x8e" + (2**40).to_bytes(8, "little") + b"\0" * 16
    found = scan_bytes(data, "big.pkl")
    assert [f.rule_id for f in found.findings] == [PS + "model-pickle-unreadable"]


def _ctx(files: list[ChangedFile], options: dict[str, object] | None = None) -> CheckContext:
    change = Change(base="b", head="h", files=files)
    return CheckContext(change, files=files, policy=CheckPolicy(options=options or {}))


def _file(path: str, data: bytes, status: FileStatus = FileStatus.ADDED) -> ChangedFile:
    return ChangedFile(path=path, status=status, added_lines=LineSet.whole(1), is_binary=True, size=len(data),
                       head_loader=lambda: data, base_loader=lambda: b"old")


def test_lfs_pointer_is_reported_not_scanned():
    ptr = (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 123456789\n")
    f = _file("models/big.safetensors", ptr)
    items = list(model_pkg.scan_model(f, _ctx([f])))
    assert len(items) == 1 and "Git LFS pointer" in items[0].reason and "not scanned" in items[0].reason


def test_sha256_beside_artifact_match_and_mismatch():
    data = corpus.safetensors()
    good = hashlib.sha256(data).hexdigest()
    model = _file("m/w.safetensors", data, FileStatus.MODIFIED)
    for digest, changed, expect in ((good, True, []), ("0" * 64, True, [PS + "model-digest-mismatch"]),
                                    ("0" * 64, False, [PS + "model-digest-stale"])):
        side = _file("m/w.safetensors.sha256", f"{digest}  w.safetensors\n".encode())
        files = [model, side] if changed else [model]
        contents = {"m/w.safetensors": data, "m/w.safetensors.sha256": f"{digest}  w.safetensors\n".encode()}
        change = Change(base="b", head="h", files=files, reader=lambda s, p, c=contents: c.get(p))
        ctx = CheckContext(change, files=[model])
        got = [f.rule_id for f in model_pkg.scan_model(model, ctx) if hasattr(f, "rule_id")]
        assert got == expect, (digest, changed)


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    """A key pair and a model-signing bundle over one file, made with the model-signing library."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from model_signing import hashing
    from model_signing import signing as ms_signing

    root = tmp_path_factory.mktemp("sign")
    key = ec.generate_private_key(ec.SECP256R1())
    (root / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    model = root / "w.safetensors"
    model.write_bytes(corpus.safetensors())
    (ms_signing.Config().use_elliptic_key_signer(private_key=root / "key.pem")
     .set_hashing_config(hashing.Config().use_file_serialization())
     .sign(model, root / "w.safetensors.sig"))
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return model.read_bytes(), (root / "w.safetensors.sig").read_bytes(), pub, other


@pytest.mark.parametrize(("variant", "expect"), [
    ("verified", []), ("tampered", "model-digest-mismatch"), ("stale", "model-digest-stale"),
    ("wrong-key", "model-signature-invalid"),
])
def test_model_signing_bundle(signing, variant, expect):
    data, bundle, pub, other = signing
    new = data + b"x" if variant in ("tampered", "stale") else data
    status = FileStatus.MODIFIED
    model = _file("m/w.safetensors", new, status)
    sig = _file("m/w.safetensors.sig", bundle)
    key = other if variant == "wrong-key" else pub
    contents = {("head", "m/w.safetensors"): new, ("head", "m/w.safetensors.sig"): bundle,
                ("base", "keys/model.pub"): key}
    files = [model] if variant == "stale" else [model, sig]
    change = Change(base="b", head="h", files=files, reader=lambda s, p: contents.get((s, p)))
    ctx = CheckContext(change, files=[model], policy=CheckPolicy(options={"model_signing_public_key":
                                                                         "keys/model.pub"}))
    got = [f for f in model_pkg.scan_model(model, ctx) if hasattr(f, "rule_id")]
    assert [f.rule_id for f in got] == ([PS + expect] if expect else [])
    if expect:
        assert got[0].severity.value == ("high" if variant == "stale" else "critical")


def test_bundle_without_trust_anchor_is_reported_not_silent(signing):
    data, bundle, _, _ = signing
    model = _file("m/w.safetensors", data)
    contents = {"m/w.safetensors": data, "m/w.safetensors.sig": bundle}
    change = Change(base="b", head="h", files=[model], reader=lambda s, p: contents.get(p))
    ctx = CheckContext(change, files=[model])
    assert list(model_pkg.scan_model(model, ctx)) == []
    assert "not verified" in ctx.skipped[0].reason


def test_onnx_library_model_external_data_found(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from checks.prompt_safety.models.onnx import external_locations

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.float_data[:]
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../secrets.bin"
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [tensor])
    raw = helper.make_model(graph).SerializeToString()
    assert onnx.load_model_from_string(raw).graph.initializer[0].name == "w"
    assert external_locations(io.BytesIO(raw), len(raw)) == [("w", "../secrets.bin")]


def test_prguard_scan_streams_a_model_over_the_size_cap(tmp_path: Path, capsys):
    """A 3 MB malicious PyTorch zip is over the 1 MiB cap: still scanned (streamed), on a real repo, from
    the working tree and from a commit (`git cat-file` into a temporary file)."""
    repo = GitRepo.on_feature_branch(tmp_path, {"README.md": "x\n"})
    blob = corpus.torch_zip(corpus.p2(corpus.call(corpus.glob("os", "system"), "id")),
                            {"archive/data/0": bytes(range(256)) * (3 * 4096)})
    repo.commit({"models/evil.pt": blob}, "add model")
    for head in ((), ("--head", "HEAD")):
        _, out, _ = scan_json(capsys, repo, *head)
        assert out["errors"] == []
        found = {(f["path"], f["rule_id"], f["severity"]) for f in out["findings"]}
        assert ("models/evil.pt", PS + "model-pickle-dangerous-global", "critical") in found, head


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "packed"])
def test_blob_streamed_from_object_store_matches_git(tmp_path: Path, packed: bool):
    """`checks.git_objects` inflates a blob itself (git cat-file would hold it whole in memory): its bytes
    must be exactly what git returns, loose or packed."""
    import random

    from checks.git_objects import copy_blob

    repo = GitRepo.on_feature_branch(tmp_path, {"README.md": "x\n"})
    data = random.Random(9).randbytes(3 * 1024 * 1024 + 17)
    repo.commit({"w.bin": data}, "blob")
    if packed:
        repo.git("gc", "-q")
    sha = repo.git("rev-parse", "HEAD:w.bin").strip()
    objects = str(tmp_path / ".git" / "objects")
    out = io.BytesIO()
    assert copy_blob(objects, sha, len(data), out)
    assert out.getvalue() == data
    assert not copy_blob(objects, "0" * 40, 5, io.BytesIO())


def test_structured_npy_with_an_object_field_is_scanned():
    from checks.prompt_safety.models.npy import has_objects

    assert has_objects([("Obj", "<f8"), ("payload", "|O")]) and not has_objects([("Obj", "<f8")])
    data = corpus.npy([("a", "<i4"), ("b", "|O")], (1,), corpus.OS_SYSTEM_P4)
    found, _ = run([corpus.Case("model", "m/rec.npy", data, True, "structured dtype with an object field")])
    assert PS + "model-pickle-dangerous-global" in {f.rule_id for f in found[0].findings}


def test_prguard_scan_verifies_signature_with_the_base_branch_key(tmp_path: Path, capsys, signing):
    """Real repository: the policy and the public key are on main; the branch adds a signed model (clean),
    then changes the model without re-signing (stale, high) and finally brings its own key (ignored: the
    key is read from the base, so the old bundle still fails to cover the new bytes)."""
    data, bundle, pub, other = signing
    policy = "checks:\n  prompt-safety:\n    model_signing_public_key: keys/model.pub\n"
    repo = GitRepo.on_feature_branch(tmp_path, {".github/prguard.yml": policy, "keys/model.pub": pub})
    repo.commit({"m/w.safetensors": data, "m/w.safetensors.sig": bundle}, "signed model")
    _, out, _ = scan_json(capsys, repo, "--head", "HEAD")
    assert out["errors"] == [] and [f for f in out["findings"] if "/model-" in f["rule_id"]] == []
    repo.commit({"m/w.safetensors": data + b"tampered", "keys/model.pub": other}, "swap model and key")
    _, out, _ = scan_json(capsys, repo, "--head", "HEAD")
    got = {(f["path"], f["rule_id"], f["severity"]) for f in out["findings"] if "/model-" in f["rule_id"]}
    assert got == {("m/w.safetensors", PS + "model-digest-mismatch", "critical")}


FIXTURES = Path(__file__).parent / "fixtures" / "models"


@pytest.mark.parametrize("name", ["model.joblib", "objects.npy", "mixed.npz", "m_zlib.joblib", "m_xz.joblib"])
def test_files_written_by_real_libraries_are_pickle_format_only(name):
    """joblib's inline arrays (and its nested object-array pickle) are followed to the end: the file is
    read completely, its imports are all allowlisted, so only the medium format finding remains."""
    data = (FIXTURES / name).read_bytes()
    found, _ = run([corpus.Case("model", f"m/{name}", data, False, "real library output")])
    got = [(f.rule_id, f.severity.value) for f in found[0].findings if "/model-" in f.rule_id]
    assert got == [(PS + "model-pickle-format", "medium")]


def test_joblib_payload_after_an_array_is_found():
    """A dangerous import placed after a joblib array's raw bytes (bytes a naive walker would choke on)."""
    got = scan_bytes(corpus.JOBLIB_THEN_SYSTEM, "m.joblib")
    assert [(f.rule_id, f.metadata.get("global")) for f in got.findings] == [
        (PS + "model-pickle-dangerous-global", "os.system")]


def test_compressed_pickle_is_inflated_and_a_decompression_bomb_stopped(monkeypatch):
    import gzip
    import lzma

    from checks.prompt_safety.models import compressed

    evil = gzip.compress(corpus.OS_SYSTEM_P4)
    found, _ = run([corpus.Case("model", "m/evil.joblib", evil, True, "gzip-compressed os.system")])
    assert PS + "model-pickle-dangerous-global" in {f.rule_id for f in found[0].findings}
    monkeypatch.setattr(compressed, "MAX_OUTPUT", 1024 * 1024)
    bomb = lzma.compress(corpus.proto(4) + b"\0" * (4 * 1024 * 1024))
    found, _ = run([corpus.Case("model", "m/bomb.pkl", bomb, True, "xz bomb")])
    assert [f.rule_id for f in found[0].findings if "/model-" in f.rule_id] == [PS + "model-archive-bomb"]


def test_context_open_streams_both_sides_caps_and_never_follows_symlinks(tmp_path: Path):
    from checks.change import FileTooLarge
    from checks.git_change import change_from_git

    big = bytes(range(256)) * 8192  # 2 MiB: over the 1 MiB cap
    repo = GitRepo.on_feature_branch(tmp_path, {"m/w.bin": b"old", "outside.txt": b"secret"})
    repo.commit({"m/w.bin": big}, "big")
    repo.symlink("m/link.pt", "../outside.txt")
    for head in (None, "HEAD"):
        change = change_from_git(repo.path, "main", head=head)
        assert [f.path for f in change.streamable] == ["m/w.bin"] and change.streamable[0].stream_only
        ctx = CheckContext(change, files=change.streamable)
        with ctx.open("m/w.bin") as fh:
            assert fh.read() == big
        with ctx.open("m/w.bin", side="base") as fh:
            assert fh.read() == b"old"
        with pytest.raises(FileTooLarge):
            ctx.open("m/w.bin", max_bytes=1024)
        assert ctx.open("m/absent.pt") is None
        with pytest.raises(FileTooLarge):
            change.streamable[0].head_bytes()  # never loaded whole by a check that does not stream
    assert change_from_git(repo.path, "main").reader is not None
    assert CheckContext(change_from_git(repo.path, "main")).open("m/link.pt") is None
