#!/usr/bin/python3
"""Generates cases.json: ARC chains sealed by dkimpy, for TestARCVectors'
independent sibling TestARCDkimpyVectors in ingest/arc_test.go.

How to re-run (only needed to change or add cases; the Go test reads the
committed cases.json and needs neither Python nor dkimpy):

    apt-get install -y python3-dkim python3-authres python3-nacl openssl
    cd ingest/testdata/arc/dkimpy && /usr/bin/python3 gen.py

It writes cases.json beside itself. Every run makes fresh keys (three RSA 2048
keys with openssl, one Ed25519 key with PyNaCl, through dkimpy's dknewkey
helpers) in a temporary directory that is deleted afterwards: only the
public halves, as DNS TXT records, go into cases.json. So each run gives
different signatures; the expectations stay the same.

Each case is a message sealed hop by hop by dkimpy's ARC signer, then, for
the cases that must fail, edited by hand (the edit is in the case's note).
For every case the file records the result dkimpy's own dkim.arc_verify
gives (dkimpy_cv, dkimpy_reason) beside the result our validator must give
(want); the script stops if dkimpy does not give the result the case was
designed for, so what is committed has been checked by dkimpy.

dkimpy 1.1.4's arc_sign always signs the ARC-Message-Signature with
c=relaxed/relaxed and rsa-sha256, and its ARC signer reads the private key
as PEM only. So for the simple/simple hops the dkim.ARC class is used with
its gen_header hook narrowed to the AMS (body hash, c= tag and header
canonicalization), and for the Ed25519 hops dkim.ARC is built with
signature_algorithm=ed25519-sha256 while its key loader is given PyNaCl's
Ed25519 key (the form dkimpy's own DKIM signer uses). Everything else,
seals included, is dkimpy's code unchanged.

dkimpy 1.1.4's ARC verifier knows only rsa-sha256 (its ARC_HASH_ALGORITHMS),
so it reports cv=fail, "unknown signature algorithm", for a chain with an
Ed25519 set: that stock verdict is recorded, as a departure, and the case is
also verified by dkimpy with ed25519-sha256 admitted to that table (its
DKIM code verifies Ed25519 as RFC 8463 says); that second verdict
(dkimpy_cv_ed25519_allowed) is the one the case must match.

dkimpy's arc_verify returns no cv at all (None) for a chain that holds
cv=fail: it ends the chain. RFC 8617 section 5.2 makes that a fail, which is
what the case wants; the Go test reads a null dkimpy_cv as "not pass".
"""

import base64
import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile

import dkim
from dkim import dknewkey
from dkim.canonicalization import CanonicalizationPolicy

TIMESTAMP = 1748858400  # 2025-06-02 10:00:00 UTC, fixed so reruns differ only in signatures

BASE = (
    b"From: Shop A <orders@shopa.example>\r\n"
    b"To: customer@canary.example\r\n"
    b"Subject: Your order 1234\r\n"
    b"  has shipped\r\n"
    b"Date: Mon, 02 Jun 2025 09:58:00 +0000\r\n"
    b"Message-ID: <order-1234@shopa.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Thanks for your order.\r\n"
    b"Track it here:   https://shopa.example/t/1234  \r\n"
    b"\r\n"
    b"Shop A\r\n"
    b"\r\n"
    b"\r\n"
)

SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type"]


class Key:
    def __init__(self, name, domain, selector, algo, private, txt):
        self.name, self.domain, self.selector = name, domain, selector
        self.algo, self.private, self.txt = algo, private, txt

    @property
    def dns_name(self):
        return "%s._domainkey.%s" % (self.selector.decode(), self.domain.decode())


def make_keys(tmp):
    keys = {}
    for name, domain, selector, kind in [
        ("lists", b"lists.example", b"arc2048", "rsa"),
        ("forward", b"forward.example", b"fwd2048", "rsa"),
        ("mx", b"mx.example", b"mx2048", "rsa"),
        ("relay", b"relay.example", b"ed", "ed25519"),
    ]:
        key_file, dns_file = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".dns")
        if kind == "rsa":
            dknewkey.GenRSAKeys(key_file, verbose=False)
            dknewkey.ExtractRSADnsPublicKey(key_file, dns_file, verbose=False)
            algo = b"rsa-sha256"
        else:
            priv = dknewkey.GenEd25519Keys(key_file, verbose=False)
            dknewkey.ExtractEd25519PublicKey(dns_file, priv, verbose=False)
            algo = b"ed25519-sha256"
        with open(key_file, "rb") as f:
            private = f.read()
        with open(dns_file) as f:
            txt = f.read().strip()
        keys[name] = Key(name, domain, selector, algo, private, txt)
    return keys


class CanonARC(dkim.ARC):
    """dkim.ARC whose ARC-Message-Signature uses ams_canon instead of the
    relaxed/relaxed dkimpy's signer hard-codes. The ARC-Seal, which RFC 8617
    puts in relaxed form, is left to dkimpy as it is."""

    ams_canon = b"relaxed/relaxed"

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):
        if header_name == b"ARC-Message-Signature" and self.ams_canon != b"relaxed/relaxed":
            canon_policy = CanonicalizationPolicy.from_c_value(self.ams_canon)
            bh = base64.b64encode(hashlib.sha256(canon_policy.canonicalize_body(self.body)).digest())
            fields = [(k, self.ams_canon if k == b"c" else bh if k == b"bh" else v) for k, v in fields]
        return super().gen_header(fields, include_headers, canon_policy, header_name, pk, standardize)


@contextlib.contextmanager
def ed25519_key_loader():
    """Lets dkim.ARC.sign load a base64 Ed25519 seed as dknewkey writes it."""
    import nacl.encoding
    import nacl.signing
    pem_loader = dkim.parse_pem_private_key

    def load(private):
        if b"BEGIN" in private:
            return pem_loader(private)
        return nacl.signing.SigningKey(private.strip(), encoder=nacl.encoding.Base64Encoder)

    dkim.parse_pem_private_key = load
    try:
        yield
    finally:
        dkim.parse_pem_private_key = pem_loader


def seal(msg, key, arc_result=None, canon=b"relaxed/relaxed", headers=SIGNED):
    """One hop: the hop's Authentication-Results, then dkimpy's ARC set on top."""
    srv_id = b"mx." + key.domain
    ar = b"Authentication-Results: " + srv_id + b"; spf=pass smtp.mailfrom=shopa.example"
    if arc_result:
        ar += b";\r\n  arc=" + arc_result
    msg = ar + b"\r\n" + msg
    if key.algo == b"rsa-sha256" and canon == b"relaxed/relaxed":
        arc_set = dkim.arc_sign(msg, key.selector, key.domain, key.private, srv_id,
                                include_headers=headers, timestamp=TIMESTAMP)
    else:
        signer = CanonARC(msg, signature_algorithm=key.algo)
        signer.ams_canon = canon
        with ed25519_key_loader():
            arc_set = signer.sign(key.selector, key.domain, key.private, srv_id,
                                  include_headers=headers, timestamp=TIMESTAMP)
    if len(arc_set) != 3:
        sys.exit("dkimpy made no ARC set for %s" % key.name)
    return b"".join(arc_set) + msg


def chain(keys, hops):
    """hops: (key name, AMS canonicalization) from the first hop to the last."""
    msg = BASE
    for n, (name, canon) in enumerate(hops):
        msg = seal(msg, keys[name], None if n == 0 else b"pass", canon)
    return msg


# Edits made after the last hop.

def fields(msg):
    head, body = msg.split(b"\r\n\r\n", 1)
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + line
        else:
            out.append(line)
    return out, body


def join(out, body):
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def arc_field(name, instance):
    pattern = re.compile(br"^" + name + br":\s*(?:.*?[;\s])?i\s*=\s*" + str(instance).encode() + br"\s*;", re.I | re.S)
    return pattern.match


def edit_field(msg, name, instance, old, new):
    out, body = fields(msg)
    match = arc_field(name, instance)
    hits = [k for k, f in enumerate(out) if match(f)]
    if len(hits) != 1 or old not in out[hits[0]]:
        sys.exit("edit: no single %s i=%d holding %r" % (name.decode(), instance, old))
    out[hits[0]] = out[hits[0]].replace(old, new, 1)
    return join(out, body)


def remove_field(msg, name, instance):
    out, body = fields(msg)
    match = arc_field(name, instance)
    kept = [f for f in out if not match(f)]
    if len(kept) != len(out) - 1:
        sys.exit("remove: no single %s i=%d" % (name.decode(), instance))
    return join(kept, body)


def edit_header(msg, old, new):
    head, body = msg.split(b"\r\n\r\n", 1)
    if old not in head:
        sys.exit("edit header: %r not found" % old)
    return head.replace(old, new, 1) + b"\r\n\r\n" + body


def edit_body(msg, old, new):
    head, body = msg.split(b"\r\n\r\n", 1)
    if old not in body:
        sys.exit("edit body: %r not found" % old)
    return head + b"\r\n\r\n" + body.replace(old, new, 1)


def dkimpy_verify(msg, txt, allow_ed25519=False):
    def dns(name, timeout=5):
        record = txt.get(name.decode().rstrip(".").lower())
        return record.encode() if record is not None else None
    table = dkim.ARC_HASH_ALGORITHMS
    if allow_ed25519:
        table[b"ed25519-sha256"] = hashlib.sha256
    try:
        cv, _, reason = dkim.arc_verify(msg, dnsfunc=dns)
    finally:
        table.pop(b"ed25519-sha256", None)
    if isinstance(cv, bytes):
        cv = cv.decode()
    return cv, str(reason)


def as_result(cv):
    """dkimpy's cv as a result; None (chain ended on cv=fail) is not a pass."""
    return {"pass": "pass", "none": "none"}.get(cv, "fail")


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
    with tempfile.TemporaryDirectory() as tmp:
        keys = make_keys(tmp)
    txt = {k.dns_name: k.txt for k in keys.values()}
    rr, ss = b"relaxed/relaxed", b"simple/simple"

    one_rr = chain(keys, [("lists", rr)])
    two_rr = chain(keys, [("lists", rr), ("forward", rr)])
    three = chain(keys, [("lists", rr), ("forward", rr), ("relay", rr)])
    three_rsa = chain(keys, [("lists", rr), ("forward", rr), ("mx", rr)])
    one_ss = chain(keys, [("lists", ss)])
    two_ss_newest = chain(keys, [("lists", rr), ("forward", ss)])
    one_ed = chain(keys, [("relay", rr)])
    ed_middle = chain(keys, [("lists", ss), ("relay", rr), ("forward", rr)])
    default_headers = seal(BASE, keys["lists"], headers=None)
    cv_fail_sealed = seal(one_rr, keys["forward"], b"fail")

    other = keys["forward"].txt
    cases = [
        # (name, message, want, note, txt overrides)
        ("pass_1hop_rsa_relaxed", one_rr, "pass",
         "one hop, RSA 2048, AMS c=relaxed/relaxed", None),
        ("pass_2hop_rsa_relaxed", two_rr, "pass",
         "two hops by two RSA 2048 keys of two domains, relaxed/relaxed", None),
        ("pass_3hop_rsa_relaxed", three_rsa, "pass",
         "three hops by three RSA 2048 keys of three domains, relaxed/relaxed", None),
        ("pass_3hop_ed25519_newest", three, "pass",
         "three hops: RSA, RSA, then Ed25519 (newest AMS and seal are ed25519-sha256)", None),
        ("pass_1hop_ed25519", one_ed, "pass",
         "one hop, Ed25519 only", None),
        ("pass_3hop_ed25519_middle", ed_middle, "pass",
         "three hops: RSA with AMS c=simple/simple, Ed25519, RSA; the Ed25519 seal is checked by the chain, not as the newest", None),
        ("pass_1hop_simple", one_ss, "pass",
         "one hop, AMS c=simple/simple", None),
        ("pass_2hop_simple_newest", two_ss_newest, "pass",
         "two hops, the newest AMS c=simple/simple", None),
        ("pass_default_headers", default_headers, "pass",
         "one hop signing dkimpy's default header list (From signed twice, to forbid a second From)", None),
        ("pass_relaxed_whitespace_changed",
         edit_header(edit_body(two_rr, b"Thanks for your order.\r\n", b"Thanks  for your order.   \r\n"),
                     b"Subject: Your order 1234\r\n  has shipped", b"Subject:  Your order 1234\r\n\thas   shipped"),
         "pass",
         "two relaxed hops, then whitespace changed in the body and in the signed Subject: relaxed canonicalization absorbs it", None),
        ("fail_simple_whitespace_changed",
         edit_body(two_ss_newest, b"Thanks for your order.\r\n", b"Thanks  for your order.   \r\n"),
         "fail",
         "newest AMS simple/simple, then whitespace changed in the body: simple body hash breaks", None),
        ("fail_body_changed_after_last_hop",
         edit_body(three_rsa, b"https://shopa.example/t/1234", b"https://evil.example/t/1234"),
         "fail",
         "three RSA hops, then the link in the body changed: the newest AMS body hash breaks", None),
        ("fail_body_changed_after_ed25519_hop",
         edit_body(three, b"https://shopa.example/t/1234", b"https://evil.example/t/1234"),
         "fail",
         "three hops, the last Ed25519, then the link in the body changed: the newest (Ed25519) AMS body hash breaks", None),
        ("fail_signed_header_changed",
         edit_header(two_rr, b"Subject: Your order 1234", b"Subject: Your refund 1234"),
         "fail",
         "two hops, then the signed Subject changed: the newest AMS breaks", None),
        ("fail_sealed_aar_changed",
         edit_field(two_rr, b"ARC-Authentication-Results", 1, b"spf=pass", b"spf=fail"),
         "fail",
         "two hops, then the i=1 ARC-Authentication-Results changed (spf=pass to spf=fail): both seals break", None),
        ("fail_sealed_ams_changed",
         edit_field(three_rsa, b"ARC-Message-Signature", 1, b"t=%d" % TIMESTAMP, b"t=%d" % (TIMESTAMP + 1)),
         "fail",
         "three RSA hops, then t= of the i=1 AMS changed: it is sealed by every ARC-Seal", None),
        ("fail_newest_seal_removed",
         remove_field(two_rr, b"ARC-Seal", 2),
         "fail",
         "two hops, then the i=2 ARC-Seal removed: set 2 is incomplete", None),
        ("fail_middle_seal_removed",
         remove_field(three_rsa, b"ARC-Seal", 2),
         "fail",
         "three RSA hops, then the i=2 ARC-Seal removed: set 2 is incomplete", None),
        ("fail_newest_cv_edited_to_fail",
         edit_field(two_rr, b"ARC-Seal", 2, b"cv=pass", b"cv=fail"),
         "fail",
         "two hops, then cv=pass of the newest seal edited to cv=fail (RFC 8617 section 5.2 step 2)", None),
        ("fail_cv_fail_sealed",
         cv_fail_sealed,
         "fail",
         "the second hop found the chain broken (its Authentication-Results say arc=fail) and dkimpy sealed cv=fail, signing only its own set", None),
        ("fail_wrong_key_published",
         two_rr,
         "fail",
         "two valid hops, but the i=1 selector publishes the other RSA key: the i=1 seal does not verify",
         {keys["lists"].dns_name: other}),
    ]

    out = []
    for name, msg, want, note, overrides in cases:
        records = dict(txt)
        records.update(overrides or {})
        cv, reason = dkimpy_verify(msg, records)
        case = {"name": name, "note": note, "want": want, "dkimpy_cv": cv, "dkimpy_reason": reason}
        if b"ed25519-sha256" in msg:
            ed_cv, ed_reason = dkimpy_verify(msg, records, allow_ed25519=True)
            if as_result(ed_cv) != want:
                sys.exit("%s: dkimpy with Ed25519 allowed says cv=%r (%s), the case wants %s" % (name, ed_cv, ed_reason, want))
            case["dkimpy_cv_ed25519_allowed"] = ed_cv
            case["dkimpy_reason_ed25519_allowed"] = ed_reason
            if as_result(cv) != want:
                case["departure"] = ("stock dkimpy %s refuses ed25519-sha256 in ARC (its ARC_HASH_ALGORITHMS holds only rsa-sha256); "
                                     "RFC 8617 takes its algorithms from DKIM, where RFC 8463 adds Ed25519" % dkimpy_version())
        elif as_result(cv) != want:
            sys.exit("%s: dkimpy says cv=%r (%s), the case wants %s" % (name, cv, reason, want))
        case["txt"] = {n: records[n] for n in sorted(records)}
        case["message"] = msg.decode("ascii")
        out.append(case)
    doc = {
        "about": "ARC chains sealed by dkimpy %s with keys made for this file; see gen.py and ../SOURCES.md" % dkimpy_version(),
        "cases": out,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print("wrote %d cases to %s" % (len(out), out_path))


def dkimpy_version():
    try:
        from importlib.metadata import version
        return version("dkimpy")
    except Exception:
        return "(unknown version)"


if __name__ == "__main__":
    main()
