#!/usr/bin/env python3
"""A second, stdlib-only safetensors implementation, written from the format's specification, that
checks files emogene writes and writes files for emogene to read (no Python safetensors package
exists on these machines).

  safetensors_check.py check FILE EXPECT.json   -> exit 0 if FILE follows the format's rules and
                                                   holds exactly the tensors/metadata in EXPECT
  safetensors_check.py write FILE               -> writes a known file (see KNOWN below)

EXPECT.json: {"metadata": {k: v}, "tensors": {name: {"dtype": "F32", "shape": [..], "values": [..]}}}

Rules checked: 8-byte little-endian header length N; header is N bytes of UTF-8 JSON, an object,
padded with trailing spaces so 8 + N is a multiple of 8; keys in sorted order; __metadata__ maps
str -> str; every tensor has dtype, shape, data_offsets; offsets tile the data buffer exactly in
order; byte sizes match dtype x shape.
"""
import json
import struct
import sys

SIZES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I32": 4, "I64": 8, "U8": 1, "BOOL": 1}
FMT = {"F16": "e", "F32": "f", "F64": "d", "I32": "i", "I64": "q", "U8": "B", "BOOL": "?"}


def fail(msg):
    print("safetensors_check: " + msg, file=sys.stderr)
    sys.exit(1)


def decode(dtype, raw):
    if dtype == "BF16":
        n = len(raw) // 2
        return [struct.unpack("<f", b"\x00\x00" + raw[2 * i:2 * i + 2])[0] for i in range(n)]
    n = len(raw) // SIZES[dtype]
    return list(struct.unpack("<%d%s" % (n, FMT[dtype]), raw))


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("header length %d past end of file" % n)
    if (8 + n) % 8 != 0:
        fail("header not padded to a multiple of 8 (8 + %d)" % n)
    raw = blob[8:8 + n]
    text = raw.decode("utf-8")
    if not text.startswith("{") or not text.rstrip(" ").endswith("}"):
        fail("header is not a JSON object followed only by space padding")
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    if keys != sorted(keys):
        fail("keys not in sorted order: %r" % keys)
    header = dict(pairs)
    data = blob[8 + n:]
    meta = {}
    if "__metadata__" in header:
        meta = dict(header.pop("__metadata__"))
        for k, v in meta.items():
            if not isinstance(k, str) or not isinstance(v, str):
                fail("metadata must map str to str")
    tensors = {}
    entries = []
    for name, info in header.items():
        info = dict(info)
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("tensor %s has keys %r" % (name, sorted(info)))
        dtype, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in SIZES:
            fail("unknown dtype %s" % dtype)
        count = 1
        for d in shape:
            count *= d
        if e - b != count * SIZES[dtype]:
            fail("tensor %s: %d bytes for shape %r %s" % (name, e - b, shape, dtype))
        entries.append((b, e, name))
        tensors[name] = {"dtype": dtype, "shape": list(shape), "values": decode(dtype, data[b:e])}
    pos = 0
    for b, e, name in sorted(entries):
        if b != pos:
            fail("tensor %s starts at %d, expected %d (gap or overlap)" % (name, b, pos))
        pos = e
    if pos != len(data):
        fail("data buffer has %d bytes, tensors use %d" % (len(data), pos))
    return meta, tensors


def check(path, expect_path):
    meta, tensors = read(path)
    with open(expect_path) as f:
        expect = json.load(f)
    if meta != expect.get("metadata", {}):
        fail("metadata %r != expected %r" % (meta, expect.get("metadata")))
    exp_t = expect["tensors"]
    if sorted(tensors) != sorted(exp_t):
        fail("tensor names %r != expected %r" % (sorted(tensors), sorted(exp_t)))
    for name, t in exp_t.items():
        got = tensors[name]
        if got["dtype"] != t["dtype"] or got["shape"] != t["shape"]:
            fail("%s: %s %r != expected %s %r" % (name, got["dtype"], got["shape"], t["dtype"], t["shape"]))
        if len(got["values"]) != len(t["values"]):
            fail("%s: value count" % name)
        for i, (a, b) in enumerate(zip(got["values"], t["values"])):
            if float(a) != float(b):
                fail("%s[%d] = %r, expected %r" % (name, i, a, b))


KNOWN_META = {"emogene.kind": "test", "note": "written by safetensors_check.py"}
KNOWN = [("a.weight", "F32", [2, 3], [0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0]),
         ("b", "I64", [4], [1, -2, 3, 1 << 40]),
         ("c.half", "F16", [3], [1.0, -2.5, 0.099975586]),
         ("d.mask", "U8", [2, 2], [0, 1, 254, 255])]


def write(path):
    header = {"__metadata__": KNOWN_META}
    data = b""
    for name, dtype, shape, values in KNOWN:
        raw = struct.pack("<%d%s" % (len(values), FMT[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, sort_keys=True, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text.encode() + data)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        fail("usage: safetensors_check.py check FILE EXPECT.json | write FILE")
