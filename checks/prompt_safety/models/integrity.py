"""Do the model's new bytes match the digest or signature the repository carries for it?

Three sources, each optional: a `<artifact>.sha256` beside the file (`sha256sum` output or a bare hex
digest), an AI-BOM (CycloneDX: a component whose evidence names the path, with a SHA-256 hash), and an
OpenSSF model-signing bundle (`<artifact>.sig` or `model.sig` in its directory) verified offline with the
`model-signing` library in key mode (`model_signing_public_key`) or certificate mode
(`model_signing_certificate_chain`); the key and certificates are read from the **base** side, so a change
cannot bring its own trust anchor.

A mismatch is critical when the digest or signature was changed with the artifact (it vouches for other
bytes: tampered or wrong) and high when it was left as it was (stale: whoever changed the model did not
re-sign it). A bundle that does not verify cryptographically is critical.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from checks.change import FileStatus, ReadError
from checks.finding import Finding
from checks.prompt_safety.models import rules

if TYPE_CHECKING:
    from checks.change import ChangedFile
    from checks.context import CheckContext

AIBOM_PATHS = ("aibom.json", "ai-bom.json", "bom.json", ".github/aibom.json", "aibom.cdx.json")
_HEX = re.compile(r"\b([0-9a-fA-F]{64})\b")


def sha256_of(ctx: CheckContext, path: str) -> str | None:
    with ctx.open(path) as fh:
        if fh is None:
            return None
        digest = hashlib.sha256()
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()


def check(file: ChangedFile, ctx: CheckContext) -> Iterator[Finding]:
    """Integrity findings for one changed model file (nothing when the repository states no digest)."""
    changed = {f.path for f in ctx.files} | {f.path for f in ctx.change.files}
    sources = list(_digest_sources(file.path, ctx))
    bundle = _bundle(file.path, ctx)
    if not sources and bundle is None:
        return
    actual = sha256_of(ctx, file.path)
    if actual is None:
        return
    for where, expected in sources:
        if expected.lower() != actual:
            stale = where not in changed and file.status is not FileStatus.ADDED
            yield _mismatch(file.path, where, expected, actual, stale)
    if bundle is not None:
        yield from _signature(file, ctx, bundle, actual, bundle[0] in changed)


def _mismatch(path: str, where: str, expected: str, actual: str, stale: bool) -> Finding:
    rule = rules.DIGEST_STALE if stale else rules.DIGEST_MISMATCH
    how = "was not updated with it" if stale else "states other bytes"
    return rule.finding(path, 0, f"{path}: sha256 {actual[:16]}… but {where} {how} ({expected[:16]}…)",
                        key=f"{where}:{expected}", metadata={"digest_source": where, "expected": expected,
                                                             "actual": actual})


def _read(ctx: CheckContext, path: str, side: str | None = None) -> bytes | None:
    try:
        return ctx.read(path, side)  # type: ignore[arg-type]
    except (ReadError, ValueError):
        return None


def _digest_sources(path: str, ctx: CheckContext) -> Iterator[tuple[str, str]]:
    data = _read(ctx, f"{path}.sha256")
    if data is not None:
        m = _HEX.search(data[:4096].decode("utf-8", "replace"))
        if m:
            yield f"{path}.sha256", m.group(1)
    for bom_path in AIBOM_PATHS:
        data = _read(ctx, bom_path)
        if data is None:
            continue
        try:
            bom = json.loads(data)
        except ValueError:
            continue
        for digest in _bom_hashes(bom, path):
            yield bom_path, digest


def _bom_hashes(bom: Any, path: str) -> Iterator[str]:
    components = bom.get("components", []) if isinstance(bom, dict) else []
    for comp in components if isinstance(components, list) else []:
        if not isinstance(comp, dict) or path not in _locations(comp):
            continue
        for h in comp.get("hashes", []) or []:
            if isinstance(h, dict) and str(h.get("alg", "")).upper() in ("SHA-256", "SHA256"):
                yield str(h.get("content", ""))


def _locations(comp: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    evidence = comp.get("evidence")
    if isinstance(evidence, dict):
        for occ in evidence.get("occurrences", []) or []:
            if isinstance(occ, dict) and isinstance(occ.get("location"), str):
                found.add(occ["location"])
    for prop in comp.get("properties", []) or []:
        if isinstance(prop, dict) and prop.get("name") in ("prguard:path", "path") and isinstance(
                prop.get("value"), str):
            found.add(prop["value"])
    return found


def _bundle(path: str, ctx: CheckContext) -> tuple[str, bytes] | None:
    folder = posixpath.dirname(path)
    for candidate in (f"{path}.sig", posixpath.join(folder, "model.sig") if folder else "model.sig"):
        data = _read(ctx, candidate)
        if data is not None:
            return candidate, data
    return None


def _signature(file: ChangedFile, ctx: CheckContext, bundle: tuple[str, bytes], actual: str,
               bundle_changed: bool) -> Iterator[Finding]:
    where, data = bundle
    options = ctx.policy.options
    key_path = options.get("model_signing_public_key")
    chain = list(options.get("model_signing_certificate_chain") or [])
    if not key_path and not chain:
        ctx.skip(file.path, f"model-signing bundle {where} not verified: no model_signing_public_key or "
                            "model_signing_certificate_chain in the policy")
        return
    try:
        manifest = _verified_manifest(ctx, data, key_path, chain)
    except _TrustMissing as exc:
        ctx.skip(file.path, f"model-signing bundle {where} not verified: {exc}")
        return
    except Exception as exc:  # any failure to verify is a failed signature, never a pass
        why = f"{type(exc).__name__}: {str(exc)[:160]}"
        yield rules.SIGNATURE_FAILED.finding(file.path, 0, f"{file.path}: {where} does not verify ({why})",
                                             key=f"{where}:invalid")
        return
    name = posixpath.basename(file.path)
    rel = posixpath.relpath(file.path, posixpath.dirname(where) or ".")
    single = where == f"{file.path}.sig"  # a bundle over one file lists it as "."
    digests = {ident: value for ident, value in manifest.items()
               if ident in (name, rel, file.path) or (single and ident == ".")}
    if not digests:
        yield rules.DIGEST_STALE.finding(file.path, 0, f"{file.path}: {where} verifies but does not list "
                                         "this file", key=f"{where}:unlisted")
        return
    if actual not in digests.values():
        stale = not bundle_changed and file.status is not FileStatus.ADDED
        yield _mismatch(file.path, where, next(iter(digests.values())), actual, stale)


class _TrustMissing(Exception):
    pass


def _verified_manifest(ctx: CheckContext, bundle: bytes, key_path: str | None,
                       chain: list[str]) -> dict[str, str]:
    """{identifier: sha256 hex} from a bundle whose signature verified (raises when it does not)."""
    import pathlib

    from model_signing import verifying
    from model_signing._signing import sign_sigstore_pb as sigstore_pb

    with tempfile.TemporaryDirectory(prefix="prguard-sig-") as tmp:
        root = pathlib.Path(tmp)
        config = verifying.Config()
        if key_path:
            key = _read(ctx, key_path, "base")
            if key is None:
                raise _TrustMissing(f"public key {key_path} is not on the base branch")
            (root / "key.pub").write_bytes(key)
            config.use_elliptic_key_verifier(public_key=root / "key.pub")
        else:
            certs = []
            for i, cert_path in enumerate(chain):
                cert = _read(ctx, cert_path, "base")
                if cert is None:
                    raise _TrustMissing(f"certificate {cert_path} is not on the base branch")
                (root / f"chain{i}.pem").write_bytes(cert)
                certs.append(root / f"chain{i}.pem")
            config.use_certificate_verifier(certificate_chain=certs)
        (root / "bundle.sig").write_bytes(bundle)
        signature = sigstore_pb.Signature.read(root / "bundle.sig")
        manifest = config._verifier.verify(signature)
    return {str(rd.identifier): rd.digest.digest_hex for rd in manifest.resource_descriptors()}
