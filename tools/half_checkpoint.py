#!/usr/bin/python3
"""Store a checkpoint's large F32 tensors as F16 (for the demo models in data/).

usage: tools/half_checkpoint.py IN.ckpt OUT.ckpt [--min-elements 1024]

Tensors with at least --min-elements elements are converted; small ones (biases, normalisation
buffers, scales) keep F32. Metadata is kept; keys stay sorted (docs/architecture.md §3). emogene
loads F16 into F32 parameters. Needs numpy (Debian's python3-numpy, /usr/bin/python3).
"""
import json
import os
import struct
import sys

import numpy as np


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    min_el = 1024
    if "--min-elements" in argv:
        min_el = int(argv[argv.index("--min-elements") + 1])
        args.remove(str(min_el))
    if len(args) != 2:
        sys.exit(__doc__)
    src, dst = args
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", None)
    out = {}
    blobs = []
    offset = 0
    for name in sorted(header):
        t = header[name]
        a, b = t["data_offsets"]
        raw = body[a:b]
        dtype = t["dtype"]
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        if dtype == "F32" and count >= min_el:
            raw = np.frombuffer(raw, dtype="<f4").astype("<f2").tobytes()
            dtype = "F16"
        out[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if meta is not None:
        out["__metadata__"] = meta
    hdr = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, dst)
    print(f"{src} ({os.path.getsize(src)} bytes) -> {dst} ({os.path.getsize(dst)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
