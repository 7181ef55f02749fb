#!/usr/bin/env python3
"""Writes the seeds that must be signed: presigned URLs (sigv4_verify), tokens (stream_token),
and the s3_key_decoder paths. Usage: python3 fuzz/gen_seeds.py fuzz/seeds

SigV4 and token signing re-implemented from src/media/sigv4.rs and src/auth/stream_token.rs;
the AWS documentation example (the unit test's) is checked first."""
import hmac, hashlib, base64, datetime, os, sys

def enc(s, keep_slash):
    out = []
    for b in s.encode() if isinstance(s, str) else s:
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in '-_.~' or (keep_slash and c == '/')):
            out.append(c)
        else:
            out.append('%%%02X' % b)
    return ''.join(out)

def amz(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')

def H(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()

def presign(ak, sk, region, method, host, t, expires, canonical_path):
    date = amz(t); day = date[:8]
    scope = f"{day}/{region}/s3/aws4_request"
    expires = max(1, min(expires, 604800))
    query = f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={enc(ak + '/' + scope, False)}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    creq = f"{method}\n{canonical_path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    sts = f"AWS4-HMAC-SHA256\n{date}\n{scope}\n" + hashlib.sha256(creq.encode()).hexdigest()
    k = H(H(H(H(('AWS4' + sk).encode(), day), region), 's3'), 'aws4_request')
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return canonical_path, query + "&X-Amz-Signature=" + sig

# The AWS documentation example, as the unit test holds it.
t = datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc).timestamp()
_, q = presign("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "GET", "examplebucket.s3.amazonaws.com", int(t), 86400, "/test.txt")
assert q.endswith("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"), q
print("aws example ok", file=sys.stderr)

root = sys.argv[1]
def write(target, name, text):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(text if isinstance(text, bytes) else text.encode())

NOW = 1_800_000_000
cases = [
    ("get_ts", "GET", "127.0.0.1:8080", 600, "/s3/media/movies/m1/480p/seg_00001.ts"),
    ("get_short", "GET", "h", 60, "/s3/b/k"),
    ("head_m4s", "HEAD", "tv.example.org", 7200, "/s3/media/movies/m1/720p/seg_00042.m4s"),
    ("get_week", "GET", "127.0.0.1:9000", 604800, "/s3/media/movies/m1/audio_1/init.mp4"),
    ("get_encoded", "GET", "[::1]:8080", 3600, "/s3/media/movies/m1/subs_fr/" + enc("sous titres é.vtt", True)),
]
for name, method, host, exp, path in cases:
    p, q = presign("AK", "SECRET", "us-east-1", method, host, NOW, exp, path)
    write("sigv4_verify", name, f"{method}\n{p}\n{q}\n{host}\n")
# Signed a little earlier and a little later than NOW (still valid; not valid yet).
p, q = presign("AK", "SECRET", "us-east-1", "GET", "h", NOW - 300, 600, "/s3/b/k")
write("sigv4_verify", "signed_earlier", f"GET\n{p}\n{q}\nh\n")
p, q = presign("AK", "SECRET", "us-east-1", "GET", "h", NOW + 3600, 600, "/s3/b/k")
write("sigv4_verify", "not_yet_valid", f"GET\n{p}\n{q}\nh\n")
# A refusal of each kind S3 names.
p, q = presign("AK", "SECRET", "us-east-1", "GET", "h", NOW, 60, "/s3/b/k")
write("sigv4_verify", "duplicated_param", f"GET\n{p}\n{q}&X-Amz-Expires=60\nh\n")
write("sigv4_verify", "bad_escape", "GET\n/s3/b/k\n%zz=1\nh\n")
write("sigv4_verify", "upper_hex_signature", f"GET\n{p}\n{q[:-64] + q[-64:].upper()}\nh\n")
write("sigv4_verify", "lowercase_names", f"GET\n{p}\n{q.lower()}\nh\n")
write("sigv4_verify", "control_fields", f"GET\n/s3/media/a b/%2e%2e/c\n\n tv.example.org \n\x01\x00\x00\x0e\x10\x00\x6b\x49\xd2\x00\x00\x00\x00\x00\x20\x00\x10")

# Paths for the key decoder: from src/web/s3.rs's unit test, plus encoded ones.
paths = {
    "segment": "/s3/media/movies/m1/480p/seg_00001.ts",
    "dotdot": "/s3/media/../secrets/admin.secret",
    "encoded_dotdot": "/s3/media/movies/%2e%2e/%2e%2e/secrets/admin.secret",
    "encoded_slash": "/s3/media/movies%2F..%2F..%2Fsecrets",
    "empty_segment": "/s3/media//etc/passwd",
    "dot": "/s3/media/movies/./m1",
    "nul": "/s3/media/a%00b",
    "backslash": "/s3/media/a\\..\\b",
    "no_key": "/s3/media/",
    "bad_escape": "/s3/media/%zz",
    "utf8": "/s3/media/movies/m1/subs_fr/sous%20titres%20%C3%A9.vtt",
    "encoded_bucket": "/s3/me%64ia/movies/m1/init.mp4",
}
for name, p in paths.items():
    write("s3_key_decoder", name, p)

# Stream tokens, as StreamTokens::sign writes them (keys k1 = [1; 32], k0 = [0; 32]).
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def token(kid, keybyte, user, movie, scope, expires):
    m = hmac.new(bytes([keybyte]) * 32, digestmod=hashlib.sha256)
    for part in ["streamd-stream", user, movie, scope]:
        m.update(part.encode()); m.update(b"\0")
    m.update(str(expires).encode())
    return f"{kid}.{expires}.{b64(user.encode())}.{b64(m.digest())}"
for name, kid, kb, user, scope, exp in [
    ("master_k1", "k1", 1, "ann", "master", NOW + 6 * 3600),
    ("rendition_k1", "k1", 1, "bob.smith_2", "720p", NOW + 3600),
    ("master_old_key", "k0", 0, "ann", "master", NOW + 60),
    ("expired", "k1", 1, "ann", "master", NOW - 1),
]:
    t = token(kid, kb, user, "movie1", scope, exp)
    write("stream_token", name, f"{t}\n{user}\n{exp}\n{scope}")
write("stream_token", "sign_only", f"\nCarol-99\n{NOW + 10}\n1080p")
write("stream_token", "padded_sig", token("k1", 1, "ann", "movie1", "master", NOW + 60) + "=\n")
write("stream_token", "leading_zero", token("k1", 1, "ann", "movie1", "master", NOW + 60).replace(f".{NOW+60}.", f".0{NOW+60}.") + "\n")
write("stream_token", "junk", "k1.1.YW5u.zz.extra")
print("ok", file=sys.stderr)
