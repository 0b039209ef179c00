"""
tls_certs.py - a throw-away PKI for the TLS tests, made with the openssl
command line at test time (no key is ever committed).

generate(directory) writes every file below and returns a Certs whose
attributes are their paths:

  ca, ca_key                  test root CA (ECDSA P-256)
  inter, inter_key            intermediate CA under the root
  server, server_key          localhost (DNS:localhost, IP:127.0.0.1), ECDSA P-256,
                              PKCS#8 key; the file holds the leaf only
  server_rsa, server_rsa_key  the same names, RSA-2048, PKCS#1 ("RSA PRIVATE KEY")
  other, other_key            DNS:other.test, ECDSA P-256 signed by the
                              intermediate; the file is leaf + intermediate
                              (so a client that trusts only the root can check
                              that the whole chain is served); SEC1 key
  expired, expired_key        localhost, valid only in January 2020
  unknown_ca, unknown_ca_key  an unrelated root CA
  unknown, unknown_key        localhost signed by unknown_ca
  client_ca, client_ca_key    CA for client certificates
  client, client_key          /CN=client-1/O=ringgate-test, clientAuth
  client_unknown, client_unknown_key
                              /CN=client-1/O=ringgate-test signed by unknown_ca

issue_server(...) makes further server certificates (e.g. for reload tests).
"""
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

OPENSSL = "openssl"

CLIENT_SUBJECT = "/CN=client-1/O=ringgate-test"

_CA_EXT = """
[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_LEAF_EXT = """
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = {eku}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
{san}
"""


def _run(*args, cwd=None):
    p = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def _serial():
    # Unique serials: reload tests tell certificates apart by them.
    return "0x" + secrets.token_hex(8)


def make_key(path, kind="ec", form="pkcs8"):
    """kind: "ec" (P-256) or "rsa" (2048).  form: "pkcs8" ("PRIVATE KEY"),
    or "traditional" (SEC1 "EC PRIVATE KEY" / PKCS#1 "RSA PRIVATE KEY")."""
    if kind == "ec":
        if form == "pkcs8":
            _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", path)
        else:
            _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)
    elif kind == "rsa":
        if form == "pkcs8":
            _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", path)
        else:
            _run("genrsa", "-traditional", "-out", path, "2048")
    else:
        raise ValueError(kind)
    os.chmod(path, 0o600)
    return path


def _ext_file(directory, text):
    fd, path = tempfile.mkstemp(suffix=".cnf", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def make_root(directory, name, subject):
    key = make_key(os.path.join(directory, name + ".key"))
    cert = os.path.join(directory, name + ".pem")
    ext = _ext_file(directory, _CA_EXT)
    _run("req", "-x509", "-new", "-key", key, "-subj", subject, "-days", "30",
         "-sha256", "-set_serial", _serial(), "-config", ext, "-extensions", "v3",
         "-out", cert)
    os.unlink(ext)
    return cert, key


def _sign(directory, csr, ca, ca_key, ext_text, out, days=30):
    ext = _ext_file(directory, ext_text)
    try:
        _run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", _serial(),
             "-days", str(days), "-sha256", "-extfile", ext, "-extensions", "v3", "-out", out)
    finally:
        os.unlink(ext)


def _csr(directory, key, subject):
    fd, csr = tempfile.mkstemp(suffix=".csr", dir=directory)
    os.close(fd)
    _run("req", "-new", "-key", key, "-subj", subject, "-out", csr)
    return csr


def make_intermediate(directory, name, subject, ca, ca_key):
    key = make_key(os.path.join(directory, name + ".key"))
    cert = os.path.join(directory, name + ".pem")
    csr = _csr(directory, key, subject)
    _sign(directory, csr, ca, ca_key, _CA_EXT, cert)
    os.unlink(csr)
    return cert, key


def issue_server(directory, name, ca, ca_key, dns=("localhost",), ips=("127.0.0.1",),
                 cn=None, kind="ec", form="pkcs8", chain=()):
    """A server certificate <name>.pem (leaf, then the files in chain) and
    its key <name>.key, signed by ca."""
    key = make_key(os.path.join(directory, name + ".key"), kind, form)
    cert = os.path.join(directory, name + ".pem")
    san = ",".join([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips])
    ku = "digitalSignature,keyEncipherment" if kind == "rsa" else "digitalSignature"
    csr = _csr(directory, key, "/CN=" + (cn or dns[0]))
    _sign(directory, csr, ca, ca_key,
          _LEAF_EXT.format(ku=ku, eku="serverAuth", san="subjectAltName = " + san), cert)
    os.unlink(csr)
    _append_chain(cert, chain)
    return cert, key


def issue_client(directory, name, ca, ca_key, subject=CLIENT_SUBJECT):
    key = make_key(os.path.join(directory, name + ".key"))
    cert = os.path.join(directory, name + ".pem")
    csr = _csr(directory, key, subject)
    _sign(directory, csr, ca, ca_key, _LEAF_EXT.format(ku="digitalSignature", eku="clientAuth",
                                                       san=""), cert)
    os.unlink(csr)
    return cert, key


def issue_expired(directory, name, ca, ca_key, dns="localhost", ip="127.0.0.1"):
    """A server certificate valid only in January 2020.  `openssl x509`
    (3.0) cannot back-date, `openssl ca` can."""
    key = make_key(os.path.join(directory, name + ".key"))
    cert = os.path.join(directory, name + ".pem")
    db = tempfile.mkdtemp(prefix="ca-db-", dir=directory)
    open(os.path.join(db, "index.txt"), "w").close()
    cnf = _ext_file(directory, f"""
[ca]
default_ca = tca
[tca]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
""" + _LEAF_EXT.format(ku="digitalSignature", eku="serverAuth",
                       san=f"subjectAltName = DNS:{dns},IP:{ip}"))
    csr = _csr(directory, key, "/CN=" + dns)
    try:
        _run("ca", "-batch", "-config", cnf, "-cert", ca, "-keyfile", ca_key, "-in", csr,
             "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
             "-extensions", "v3", "-notext", "-rand_serial")
    finally:
        os.unlink(csr)
        os.unlink(cnf)
        shutil.rmtree(db)
    return cert, key


def _append_chain(cert, chain):
    if not chain:
        return
    with open(cert, "a") as out:
        for c in chain:
            with open(c) as f:
                out.write(f.read())


def serial_of(cert):
    """The leaf's serial number as an upper-case hex string."""
    out = _run("x509", "-in", cert, "-noout", "-serial").strip()
    return out.partition("=")[2].upper()


@dataclass
class Certs:
    dir: str
    ca: str
    ca_key: str
    inter: str
    inter_key: str
    server: str
    server_key: str
    server_rsa: str
    server_rsa_key: str
    other: str
    other_key: str
    expired: str
    expired_key: str
    unknown_ca: str
    unknown_ca_key: str
    unknown: str
    unknown_key: str
    client_ca: str
    client_ca_key: str
    client: str
    client_key: str
    client_unknown: str
    client_unknown_key: str


def generate(directory):
    d = str(directory)
    os.makedirs(d, exist_ok=True)
    ca, ca_key = make_root(d, "ca", "/CN=ringgate test root CA/O=ringgate-test")
    inter, inter_key = make_intermediate(d, "inter", "/CN=ringgate test intermediate CA", ca, ca_key)
    server, server_key = issue_server(d, "server", ca, ca_key)
    server_rsa, server_rsa_key = issue_server(d, "server_rsa", ca, ca_key, kind="rsa",
                                              form="traditional")
    other, other_key = issue_server(d, "other", inter, inter_key, dns=("other.test",), ips=(),
                                    form="traditional", chain=(inter,))
    expired, expired_key = issue_expired(d, "expired", ca, ca_key)
    unknown_ca, unknown_ca_key = make_root(d, "unknown_ca", "/CN=unrelated CA/O=elsewhere")
    unknown, unknown_key = issue_server(d, "unknown", unknown_ca, unknown_ca_key)
    client_ca, client_ca_key = make_root(d, "client_ca", "/CN=ringgate test client CA")
    client, client_key = issue_client(d, "client", client_ca, client_ca_key)
    client_unknown, client_unknown_key = issue_client(d, "client_unknown", unknown_ca,
                                                      unknown_ca_key)
    return Certs(d, ca, ca_key, inter, inter_key, server, server_key, server_rsa, server_rsa_key,
                 other, other_key, expired, expired_key, unknown_ca, unknown_ca_key, unknown,
                 unknown_key, client_ca, client_ca_key, client, client_key, client_unknown,
                 client_unknown_key)
