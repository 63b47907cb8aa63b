"""Prints, as a PEM public key (SubjectPublicKeyInfo), the RSA key of a JWKS: what HAProxy's
jwt_verify takes. Standard library only (DER written by hand: two integers in two sequences).

    python3 jwks_pem.py http://127.0.0.1:<admin port>/.well-known/jwks.json [kid]
"""
import base64
import json
import sys
import textwrap
import urllib.request


def b64url_int(s):
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    return int.from_bytes(raw, "big")


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return bytes([tag]) + length + content


def der_int(v):
    body = v.to_bytes(v.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return der(0x02, body)


def spki_pem(n, e):
    rsa_oid = der(0x06, bytes([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]))
    algorithm = der(0x30, rsa_oid + der(0x05, b""))
    key = der(0x30, der_int(n) + der_int(e))
    spki = der(0x30, algorithm + der(0x03, b"\x00" + key))
    body = "\n".join(textwrap.wrap(base64.b64encode(spki).decode(), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def main():
    with urllib.request.urlopen(sys.argv[1], timeout=30) as res:
        keys = json.load(res)["keys"]
    want = sys.argv[2] if len(sys.argv) > 2 else None
    rsa = [k for k in keys if k.get("kty") == "RSA" and want in (None, k.get("kid"))]
    if not rsa:
        sys.exit(f"no RSA key{' ' + want if want else ''} in {sys.argv[1]}")
    sys.stdout.write(spki_pem(b64url_int(rsa[0]["n"]), b64url_int(rsa[0]["e"])))


if __name__ == "__main__":
    main()
