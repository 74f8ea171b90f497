"""schemathesis hooks for the urlstash API run (tests/api/run.mjs sets SAMPLE_URL).

A generated `file_url` (of an upload or of a batch item) that names a public host would make
the Worker fetch from the internet: on a machine without it that is a 502 (or a failed batch
item) about the machine, not the Worker. Such URLs
are pointed at the run's loopback origin (allow-listed), so uploads succeed and their 200
responses are checked against the schema too. Everything else stays as generated, including
every URL the policy refuses (private addresses, internal names, other schemes, bad ports).
The run's deliberately slow origin (SLOW_URL, 2 KiB/s, for the job a cancel finds running)
is pointed there too when a response taught it to the fuzzer: stored now, it can only end in
the Worker's 504 after FETCH_TIMEOUT_MS, a fact about that fixture, not the Worker.
"""
import ipaddress
import os
import re
from urllib.parse import urlsplit

import schemathesis

SAMPLE_URL = os.environ["SAMPLE_URL"]
SLOW_URL = os.environ["SLOW_URL"]


def _fetchable_public(value):
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    if port not in (None, 80, 443, 8080, 8443):
        return False
    try:
        ip = ipaddress.ip_address(host)
        return ip.is_global
    except ValueError:
        # A name: its last label starts with a letter. One that ends in a number is an IPv4
        # address in another spelling (`127.1`, `0177.0.0.1`, `10.0.0.1.`), which Python's
        # parser refuses and the policy must: left as generated.
        name = _DNS_NAME.match(host)
        return bool(name) and not host.rstrip(".").endswith((".localhost", ".local", ".internal", ".arpa"))


# A host name of two labels or more whose last label starts with a letter (a trailing dot
# allowed).
_DNS_NAME = re.compile(r"^[^.]+(\.[^.]+)*\.[A-Za-z][A-Za-z0-9-]*\.?$")


# What a URI may hold (RFC 3986): no spaces, quotes, angle brackets, braces, backslashes.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$")


def _pointed(item):
    """`item` with a fetchable public `file_url`, or the slow fixture's, pointed at the loopback
    origin's sample, else as is."""
    if not (isinstance(item, dict) and isinstance(item.get("file_url"), str)):
        return item
    url = item["file_url"]
    if url == SLOW_URL or (len(url) <= 2048 and _URI.match(url) and _fetchable_public(url)):
        return dict(item, file_url=SAMPLE_URL)
    return item


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Runs in every phase (examples included). A case stays as valid or invalid as it was:
    only a `file_url` that is a valid URI within maxLength is replaced, by a valid one, in an
    upload body and in each item of a batch body."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        case.body = dict(body, items=[_pointed(item) for item in body["items"]])
    elif isinstance(body, dict):
        case.body = _pointed(body)
