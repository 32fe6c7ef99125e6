"""Digital signatures in PDF files, validated with pyHanko against the agency's trust roots.

    from repo_server.extract.signatures import has_signatures, validate_signatures
    if has_signatures(path):
        for sig in validate_signatures(path, trust_roots=[der, ...]): sig.summary, sig.evidence

No network is used: the chain is built from the certificates in the signature, the file's
Document Security Store (DSS) and the trust roots given; revocation is checked only against
the CRLs and OCSP responses found in the file (none found: "not checked", never a failure).
A bad signature is a result, never an exception.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# pyHanko logs every failed chain or suspicious change at ERROR with a traceback; the result
# carries the same facts in plain words, so its loggers are quietened.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

SIGNATURE_MARK = b"/ByteRange"  # every PDF signature dictionary has it, uncompressed
VALID, INVALID, INDETERMINATE = "valid", "invalid", "indeterminate"


def has_signatures(path: str | Path, chunk_size: int = 1 << 20) -> bool:
    """True when the file is a PDF that contains a signature dictionary (a cheap byte scan:
    a signature dictionary is never inside a compressed object stream)."""
    overlap = len(SIGNATURE_MARK) - 1
    try:
        with open(path, "rb") as fh:
            head = fh.read(chunk_size)
            if head[:1024].find(b"%PDF-") < 0:
                return False
            tail = b""
            block = head
            while block:
                if block.find(SIGNATURE_MARK) >= 0 or \
                        (tail + block[:overlap]).find(SIGNATURE_MARK) >= 0:
                    return True
                tail = block[-overlap:]
                block = fh.read(chunk_size)
    except OSError:
        return False
    return False


def load_certificates(data: bytes) -> list[bytes]:
    """DER certificates from a PEM (one or more blocks) or DER file."""
    if b"-----BEGIN" in data:
        from asn1crypto import pem

        return [der for kind, _, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"]
    return [data]


@dataclass
class SignatureResult:
    """One signature: the summary kept in the document's metadata and the evidence kept
    beside the file (certificates and revocation data as base64 DER)."""

    summary: dict[str, Any]
    evidence: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _cert_view(cert) -> dict[str, Any]:  # noqa: ANN001 - asn1crypto Certificate
    return {"subject": cert.subject.human_friendly, "issuer": cert.issuer.human_friendly,
            "serial_number": format(cert.serial_number, "x"),
            "not_before": cert["tbs_certificate"]["validity"]["not_before"].native.isoformat(),
            "not_after": cert["tbs_certificate"]["validity"]["not_after"].native.isoformat(),
            "sha256": _fingerprint(cert.dump())}


def _common_name(cert) -> str:  # noqa: ANN001
    native = cert.subject.native
    return native.get("common_name") or cert.subject.human_friendly


def _revocation_archive(signer_info) -> tuple[list, list]:  # noqa: ANN001
    """CRLs and OCSP responses the signer embedded in the signature (Adobe's attribute)."""
    from pyhanko.sign.general import find_unique_cms_attribute

    try:
        info = find_unique_cms_attribute(signer_info["signed_attrs"],
                                         "adobe_revocation_info_archival")
    except Exception:  # noqa: BLE001 - absent or malformed: nothing embedded
        return [], []
    crls = list(info["crl"]) if info["crl"] else []
    ocsps = list(info["ocsp"]) if info["ocsp"] else []
    return crls, ocsps


def _dss(reader) -> tuple[list, list, list]:  # noqa: ANN001
    """Certificates, CRLs and OCSP responses of the file's Document Security Store."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        dss = DocumentSecurityStore.read_dss(reader)
        certs = list(dss.load_certs())
        crls = [asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls]
        ocsps = [asn1_ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps]
    except Exception:  # noqa: BLE001 - no DSS (the usual case) or a damaged one: none
        return [], [], []
    return certs, crls, ocsps


def _verdict(status, changed: bool, allowed_change: bool) -> tuple[str, str]:  # noqa: ANN001
    """valid / invalid / indeterminate, with the reason in words a clerk understands."""
    if not status.intact:
        return INVALID, ("The signed content was changed after signing: the signature no "
                         "longer matches the document.")
    if not status.valid:
        return INVALID, "The signature value is not correct for the signer's certificate."
    if changed and not allowed_change:
        return INVALID, ("The document was changed after it was signed in a way the signature "
                         "does not allow.")
    revocation = getattr(status, "revocation_details", None)
    if revocation is not None:
        when = revocation.revocation_date.isoformat()
        who = "A certificate authority in the chain" if revocation.ca_revoked else \
            "The signer's certificate"
        return INVALID, f"{who} was revoked on {when}."
    if not status.trusted:
        problem = getattr(status, "trust_problem_indic", None)
        name = getattr(problem, "name", "") or ""
        if "EXPIRED" in name or "OUT_OF_BOUNDS" in name:
            return INDETERMINATE, ("The signer's certificate (or one above it) was not valid "
                                   "at the time of checking.")
        return INDETERMINATE, ("The signer's certificate does not lead to any trust root "
                               "configured by the agency; add the issuing CA's root "
                               "certificate to the trust roots and check again.")
    if changed:
        return VALID, ("The signature is valid; later additions (such as further signatures "
                       "or form filling) are of a kind it allows.")
    return VALID, "The signature is valid and the document was not changed after signing."


def validate_signatures(path: str | Path, *, trust_roots: list[bytes],
                        now: datetime | None = None) -> list[SignatureResult]:
    """Validate every signature of the PDF at `path` (an empty list for an unsigned file;
    one INVALID result when the file cannot be parsed at all)."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    checked_at = (now or datetime.now(UTC)).astimezone(UTC)
    roots = [asn1_x509.Certificate.load(der) for der in trust_roots]
    file_sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    results: list[SignatureResult] = []
    with open(path, "rb") as fh:
        try:
            reader = PdfFileReader(fh, strict=False)
            signatures = list(reader.embedded_signatures)
        except Exception as exc:  # noqa: BLE001 - a damaged file is a result, not a crash
            reason = f"The PDF could not be read to check its signatures ({type(exc).__name__})."
            return [SignatureResult(
                {"field": None, "verdict": INVALID, "reason": reason,
                 "checked_at": checked_at.isoformat()},
                {"file_sha256": file_sha256, "error": str(exc)})]
        dss_certs, dss_crls, dss_ocsps = _dss(reader)
        for sig in signatures:
            results.append(_validate_one(sig, roots, dss_certs, dss_crls, dss_ocsps,
                                         checked_at, file_sha256, ValidationContext,
                                         validate_pdf_signature))
    return results


def _validate_one(sig, roots, dss_certs, dss_crls, dss_ocsps, checked_at,  # noqa: ANN001, PLR0913
                  file_sha256, ValidationContext, validate_pdf_signature) -> SignatureResult:  # noqa: ANN001, N803
    field = sig.field_name
    embedded_crls, embedded_ocsps = _revocation_archive(sig.signer_info)
    crls, ocsps = dss_crls + embedded_crls, dss_ocsps + embedded_ocsps
    context = ValidationContext(trust_roots=roots, other_certs=dss_certs, crls=crls,
                                ocsps=ocsps, allow_fetching=False,
                                revocation_mode="soft-fail", moment=checked_at)
    base = {"field": field, "checked_at": checked_at.isoformat()}
    sig_obj = sig.sig_object
    reported = {k: str(sig_obj.get(f"/{k}")) for k in ("Name", "Reason", "Location")
                if sig_obj.get(f"/{k}") is not None}
    try:
        status = validate_pdf_signature(sig, context)
    except Exception as exc:  # noqa: BLE001 - an unreadable signature is a verdict
        summary = {**base, "verdict": INVALID,
                   "reason": f"The signature could not be checked ({type(exc).__name__}: {exc})."}
        return SignatureResult(summary, {"file_sha256": file_sha256, "summary": summary,
                                         "error": str(exc)})
    coverage = getattr(status.coverage, "name", None)
    changed = coverage != "ENTIRE_FILE"
    level = status.modification_level
    allowed_change = (level is not None and level.name != "OTHER"
                      and status.docmdp_ok is not False)
    verdict, reason = _verdict(status, changed, allowed_change)
    cert = status.signing_cert
    path_certs = list(status.validation_path.iter_certs(include_root=True)) \
        if status.validation_path is not None else []
    timestamp = status.timestamp_validity
    signing_time = status.signer_reported_dt
    summary = {
        **base,
        "signer": _common_name(cert),
        "signer_certificate": _cert_view(cert),
        "signing_time": signing_time.isoformat() if signing_time else None,
        "timestamp": ({"time": timestamp.timestamp.isoformat(), "valid": bool(
            timestamp.intact and timestamp.valid), "trusted": bool(timestamp.trusted)}
            if timestamp is not None else None),
        "intact": bool(status.intact),
        "cryptographically_valid": bool(status.valid),
        "changed_after_signing": changed,
        "coverage": coverage.lower() if coverage else None,
        "modification_level": level.name.lower() if level is not None else None,
        "trusted": bool(status.trusted),
        "chain": [c.subject.human_friendly for c in path_certs],
        "trust_root": _fingerprint(path_certs[0].dump()) if path_certs and status.trusted
        else None,
        "revocation": ("revoked" if status.revocation_details is not None
                       else "checked" if crls or ocsps else "not_checked"),
        "revocation_data": {"crls": len(crls), "ocsp_responses": len(ocsps)},
        "verdict": verdict,
        "reason": reason,
        **({"reported": reported} if reported else {}),
    }
    in_signature = [c.chosen for c in (sig.signed_data["certificates"] or [])
                    if c.name == "certificate"]
    evidence = {
        "file_sha256": file_sha256,
        "summary": summary,
        "byte_range": [int(x) for x in sig_obj["/ByteRange"]],
        "digest_algorithm": status.md_algorithm,
        "signature_mechanism": status.pkcs7_signature_mechanism,
        "certificates": {
            "signer": _b64(cert.dump()),
            "in_signature": [_b64(c.dump()) for c in in_signature],
            "in_dss": [_b64(c.dump()) for c in dss_certs],
            "validation_path": [_b64(c.dump()) for c in path_certs],
            "trust_roots": [_b64(r.dump()) for r in roots],
        },
        "revocation": {"crls": [_b64(c.dump()) for c in crls],
                       "ocsp_responses": [_b64(o.dump()) for o in ocsps]},
        "report": status.pretty_print_details(),
        "validator": _versions(),
    }
    return SignatureResult(summary, evidence)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pyHanko", "pyhanko-certvalidator"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out
