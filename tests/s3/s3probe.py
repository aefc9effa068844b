#!/usr/bin/env python3
"""Check that an S3 endpoint really stores objects: create a bucket, PUT, GET, DELETE (SigV4, stdlib only).
Usage: s3probe.py ENDPOINT REGION   (credentials in HF_PROBE_ACCESS_KEY / HF_PROBE_SECRET_KEY, never argv)
Exit status 0 when every step answered as expected. Used by rgw-start when curl(1) is not installed."""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse


def request(host, port, region, ak, sk, method, path, body=b""):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    hostport = "%s:%d" % (host, port)
    headers = {"host": hostport, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, urllib.parse.quote(path), "",
                           "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)), signed, payload])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + sk).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak, scope, signed, sig)
    headers["content-length"] = str(len(body))
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data
    finally:
        conn.close()


def main():
    endpoint, region = sys.argv[1], sys.argv[2]
    ak, sk = os.environ["HF_PROBE_ACCESS_KEY"], os.environ["HF_PROBE_SECRET_KEY"]
    u = urllib.parse.urlparse(endpoint)
    host, port = u.hostname, u.port or 80
    bucket = "/hf-probe-%d" % os.getpid()
    steps = [("PUT", bucket, b"", 200), ("PUT", bucket + "/probe", b"probe", 200),
             ("GET", bucket + "/probe", b"", 200), ("DELETE", bucket + "/probe", b"", 204),
             ("DELETE", bucket, b"", 204)]
    for method, path, body, want in steps:
        status, data = request(host, port, region, ak, sk, method, path, body)
        if status != want or (method == "GET" and data != b"probe"):
            print("s3probe: %s %s -> %d" % (method, path, status), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, http.client.HTTPException) as e:
        print("s3probe: %s" % e, file=sys.stderr)
        sys.exit(1)
