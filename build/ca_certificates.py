"""Runtime hook of the frozen binary: find this server's CA certificates.

The binary carries the OpenSSL of the machine that built it, and that OpenSSL
looks for CA certificates where the build machine's distribution keeps them
(Debian: /usr/lib/ssl). On a server of another family (RHEL, SUSE, Alpine)
that place does not exist, and every HTTPS webhook delivery would fail its
certificate check. So, when the admin has not said where the certificates are
(SSL_CERT_FILE or SSL_CERT_DIR) and the built-in place is missing, point
OpenSSL at the first CA bundle found where the common distributions keep one.

The server's own store is used, never a copy inside the binary: the host's
updates, and an organisation's own CAs added to that store, apply as they do
for every other program on it.
"""

import os
import ssl

BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL, Fedora, Amazon Linux
    "/etc/ssl/ca-bundle.pem",  # openSUSE, SLES
    "/etc/ssl/cert.pem",  # Alpine
)


def _point_openssl_at_the_system_store() -> None:
    if "SSL_CERT_FILE" in os.environ or "SSL_CERT_DIR" in os.environ:
        return
    built_in = ssl.get_default_verify_paths()
    # cafile and capath are None when the built-in file or folder is missing.
    if built_in.cafile or built_in.capath:
        return
    for bundle in BUNDLES:
        if os.path.isfile(bundle):
            os.environ["SSL_CERT_FILE"] = bundle
            return


_point_openssl_at_the_system_store()
