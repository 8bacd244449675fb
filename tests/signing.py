"""Module signatures in tests: the kernel's own ``scripts/sign-file`` (from the Debian
linux-kbuild package the fixture build unpacks), a throwaway key, and an openssl check
that a signature trailer signs the bytes before it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Tuple

#: include/linux/module_signature.h MODULE_SIG_STRING
MAGIC = b"~Module signature appended~\n"


def throwaway_key(tmp: Path, name: str) -> Tuple[Path, Path]:
    """(key.pem, cert.pem): an RSA key and self-signed certificate with CN ``name``."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "1", "-batch",
         "-x509", "-subj", f"/CN={name}", "-newkey", "rsa:2048",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


def signature_length(trailer: bytes) -> int:
    """``sig_len`` of a trailer: the big-endian word just before the magic."""
    assert trailer.endswith(MAGIC)
    return int.from_bytes(trailer[-len(MAGIC) - 4 : -len(MAGIC)], "big")


def verify(trailer: bytes, elf: bytes, cert: Path, tmp: Path) -> None:
    """openssl checks that the PKCS#7 signature in ``trailer`` signs ``elf`` with ``cert``."""
    p7, content = tmp / "sig.p7", tmp / "signed-content"
    p7.write_bytes(trailer[: signature_length(trailer)])
    content.write_bytes(elf)
    subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7),
         "-content", str(content), "-certfile", str(cert), "-noverify", "-out", "/dev/null"],
        check=True, capture_output=True,
    )  # fmt: skip
