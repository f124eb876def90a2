#!/usr/bin/python3
"""torchaudio's side of `emogene bench features`: times torchaudio's HuBERT / wav2vec 2.0 on the same
weights file, audio and thread count as emogene, one forward pass per request, so that the two can be
run alternately. Run with /usr/bin/python3 (Debian's torch 1.13 and torchaudio 0.13).

  bench_features_torchaudio.py --weights W.safetensors --model hubert_base --audio A.npy --threads N
                               [--normalize] [--reference OUT.npy]

Protocol on stdin/stdout (one line each): after loading and one warm-up pass it prints
"ready <torch version> <torchaudio version> <threads>"; each "run" line is answered with the seconds
one forward pass took; "quit" (or end of input) exits. --reference writes the last hidden state
([frames, dim] f32) for the accuracy check.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_feature_fixtures import FULL, read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--model", required=True, choices=sorted(FULL))
    ap.add_argument("--audio", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--normalize", action="store_true")
    ap.add_argument("--reference")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = FULL[a.model]().eval()
    state = {k: torch.from_numpy(v) for k, v in read_safetensors(a.weights).items()}
    model.load_state_dict(state)
    x = np.load(a.audio).astype(np.float32)
    if a.normalize:  # as Hugging Face's feature extractor: (x - mean) / sqrt(var + 1e-7)
        x64 = x.astype(np.float64)
        x = ((x64 - x64.mean()) / np.sqrt(x64.var() + 1e-7)).astype(np.float32)
    wave = torch.from_numpy(x)[None]
    with torch.inference_mode():
        y, _ = model(wave)  # warm-up
        if a.reference:
            np.save(a.reference, y[0].numpy().astype(np.float32))
        print(f"ready {torch.__version__} {torchaudio.__version__} {torch.get_num_threads()}", flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd != "run":
                print(f"error: unknown command {cmd!r}", flush=True)
                continue
            t = time.perf_counter()
            model(wave)
            print(f"{time.perf_counter() - t:.6f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
