#!/usr/bin/python3
"""Reference data for emogene's features/ module, made with torchaudio (Debian's python3-torchaudio
0.13 on torch 1.13: run with /usr/bin/python3, not a python3 earlier on the PATH).

  make_feature_fixtures.py [--out tests/features/fixtures]
      The small fixtures the tests use (committed, < 3 MB): random-weight HuBERT/wav2vec 2.0 models
      of both architecture families, each saved in Hugging Face and in torchaudio key naming, a test
      signal, and torchaudio's outputs (hidden_states[0..L] in Hugging Face's sense, conv features,
      with and without input normalisation) and torchaudio's mel power spectrogram.

  make_feature_fixtures.py --full hubert_base|hubert_large --out DIR [--seed N]
      A full-size model with random weights (timing only; never committed, never used by the tests),
      written as DIR/<name>.safetensors in torchaudio naming. `emogene bench features` calls this.

No safetensors Python package exists on these machines: the files are written by the few lines
below (8-byte little-endian header length, JSON header padded with spaces, keys sorted, raw data).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torchaudio

SAMPLE_RATE = 16000
NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


# ---------------------------------------------------------------------------------------------
# safetensors, stdlib + numpy


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    """tensors: name -> numpy array (or torch tensor). Floating tensors are stored as `dtype`."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = tensors[name]
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a.astype(NP_DTYPES[dtype]) if a.dtype.kind == "f" else a)
        tag = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
               np.dtype(np.int64): "I64", np.dtype(np.int32): "I32"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """name -> float32 numpy array (copies)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = np.dtype(NP_DTYPES[v["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).astype(np.float32)
    return out


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# models


def build(spec):
    """A torchaudio Wav2Vec2Model from a spec dict (dropouts 0, inference)."""
    return torchaudio.models.wav2vec2_model(
        extractor_mode=spec["extractor_mode"],
        extractor_conv_layer_config=spec["conv"],
        extractor_conv_bias=spec["conv_bias"],
        encoder_embed_dim=spec["embed"],
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=spec["pos_k"],
        encoder_pos_conv_groups=spec["pos_g"],
        encoder_num_layers=spec["layers"],
        encoder_num_heads=spec["heads"],
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=spec["ffn"],
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=spec["pre_norm"],
        encoder_layer_drop=0.0,
        aux_num_out=spec.get("vocab"),
    ).eval()


def randomise(model, gen, f16):
    """Non-trivial values everywhere (norm gains and biases too), optionally rounded to f16 so that a
    checkpoint stored as F16 holds exactly the weights torchaudio ran with."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.copy_(p.abs() * (0.8 + 0.4 * torch.rand(p.shape, generator=gen)))
            elif "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("weight") or name.endswith("weight_v"):
                # conv layers get a larger gain so that activations keep their size through the stack
                gain = 2.5 if ".conv_layers." in name else 1.0
                p.copy_(gain * p * (0.9 + 0.2 * torch.rand(p.shape, generator=gen)))
            if f16:
                p.copy_(p.half().float())


def torchaudio_state(model):
    """The torchaudio state dict with weight norm's g/v (as torchaudio 0.13 saves them)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def to_huggingface(state, prefix, parametrizations, extra):
    """torchaudio names -> Hugging Face names. The mapping is torchaudio's own import_huggingface_model:
    HF `feature_extractor` = torchaudio `feature_extractor`, HF `feature_projection` = torchaudio
    `encoder.feature_projection`, HF `encoder` = torchaudio `encoder.transformer`, HF `lm_head` =
    torchaudio `aux`. The HF base model sits under `hubert.`/`wav2vec2.` in the *ForCTC classes."""
    out = {}
    for k, v in state.items():
        if k.startswith("aux."):
            out["lm_head." + k[4:]] = v
            continue
        if k.startswith("encoder.feature_projection."):
            hk = "feature_projection." + k[len("encoder.feature_projection."):]
        elif k.startswith("encoder.transformer."):
            hk = "encoder." + k[len("encoder.transformer."):]
        else:
            hk = k
        if parametrizations:
            hk = hk.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
            hk = hk.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
        out[prefix + hk] = v
    for k, v in extra.items():
        out[k] = v
    return out


def hf_config(spec, architecture):
    return {
        "architectures": [architecture],
        "model_type": spec["family"],
        "conv_bias": spec["conv_bias"],
        "conv_dim": [c[0] for c in spec["conv"]],
        "conv_kernel": [c[1] for c in spec["conv"]],
        "conv_stride": [c[2] for c in spec["conv"]],
        "num_feat_extract_layers": len(spec["conv"]),
        "feat_extract_norm": "group" if spec["extractor_mode"] == "group_norm" else "layer",
        "feat_extract_activation": "gelu",
        "do_stable_layer_norm": spec["pre_norm"],
        "hidden_size": spec["embed"],
        "hidden_act": "gelu",
        "intermediate_size": spec["ffn"],
        "num_attention_heads": spec["heads"],
        "num_hidden_layers": spec["layers"],
        "num_conv_pos_embeddings": spec["pos_k"],
        "num_conv_pos_embedding_groups": spec["pos_g"],
        "layer_norm_eps": 1e-5,
        "vocab_size": spec.get("vocab", 32),
    }


def normalise(x):
    """Hugging Face's Wav2Vec2FeatureExtractor (do_normalize): zero mean, unit variance over the whole
    utterance, (x - mean) / sqrt(var + 1e-7), population variance."""
    x64 = x.astype(np.float64)
    return ((x64 - x64.mean()) / np.sqrt(x64.var() + 1e-7)).astype(np.float32)


def hidden_states(model, wave, pre_norm):
    """Hugging Face's hidden_states[0..L], from torchaudio's modules; and the conv features."""
    with torch.inference_mode():
        x = torch.from_numpy(wave)[None]
        feats, _ = model.feature_extractor(x, None)
        h = model.encoder.feature_projection(feats)
        h = model.encoder.transformer._preprocess(h)
        hs = [h]
        for layer in model.encoder.transformer.layers:
            h = layer(h)
            hs.append(h)
        if pre_norm:  # the last hidden state of a stable-layer-norm model includes the final norm
            hs[-1] = model.encoder.transformer.layer_norm(hs[-1])
        whole = model.encoder(feats)
        diff = (whole - hs[-1]).abs().max().item()
        assert diff < 1e-5, f"hidden state bookkeeping differs from torchaudio's forward by {diff}"
        return np.stack([t[0].numpy() for t in hs]), feats[0].numpy()


def test_signal(n, seed):
    """A speech-like deterministic test signal: a gliding harmonic tone, amplitude modulated, with noise
    and a short silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 120 + 60 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = 0.12 * voiced * env + 0.02 * rng.standard_normal(n)
    x[int(0.6 * n):int(0.65 * n)] *= 0.01
    return x.astype(np.float32)


TINY = [
    # HuBERT base-like: group-norm feature extractor, no conv bias, post-norm transformer, head_dim 64
    # (so the torchaudio copy is readable without a config.json); stored as F16.
    dict(name="hubert_tiny", family="hubert", extractor_mode="group_norm",
         conv=[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2, conv_bias=False, embed=128, pos_k=15,
         pos_g=16, layers=2, heads=2, ffn=128, pre_norm=False, dtype="F16", architecture="HubertModel",
         prefix="", parametrizations=False, normalize=False),
    # wav2vec 2.0 large-like (lv60k / hubert-large): layer-norm feature extractor, conv bias, pre-norm
    # ("stable layer norm") transformer, even positional kernel; HF copy is Wav2Vec2ForCTC with the
    # newer parametrizations weight-norm keys, lm_head and masked_spec_embed.
    dict(name="wav2vec2_tiny", family="wav2vec2", extractor_mode="layer_norm",
         conv=[(24, 10, 5)] + [(24, 3, 2)] * 4 + [(24, 2, 2)] * 2, conv_bias=True, embed=64, pos_k=8,
         pos_g=4, layers=3, heads=4, ffn=96, pre_norm=True, dtype="F32", architecture="Wav2Vec2ForCTC",
         prefix="wav2vec2.", parametrizations=True, normalize=True, vocab=10),
]


def make_small(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(1234)
    wave = test_signal(24500, 7)  # 76 frames; not a multiple of the 320-sample hop
    save_npy(os.path.join(out, "audio.npy"), wave)

    # torchaudio's mel power spectrogram with the parameters of emogene's mel (see features/mel.h)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=320, f_min=0.0, f_max=8000.0,
        n_mels=80, window_fn=torch.hann_window, power=2.0, center=False, norm=None, mel_scale="htk")
    with torch.inference_mode():
        save_npy(os.path.join(out, "mel_power_torchaudio.npy"), mel(torch.from_numpy(wave)).T.numpy())

    for spec in TINY:
        model = build(spec)
        randomise(model, gen, spec["dtype"] == "F16")
        state = torchaudio_state(model)
        name = spec["name"]
        # torchaudio naming
        ta_dir = os.path.join(out, name + "_torchaudio")
        os.makedirs(ta_dir, exist_ok=True)
        write_safetensors(os.path.join(ta_dir, "model.safetensors"), state, dtype=spec["dtype"])
        if spec["heads"] * 64 != spec["embed"]:  # not inferable from the keys: say it beside the file
            with open(os.path.join(ta_dir, "config.json"), "w") as f:
                json.dump({"num_attention_heads": spec["heads"]}, f, indent=1)
        # Hugging Face naming
        hf_dir = os.path.join(out, name)
        os.makedirs(hf_dir, exist_ok=True)
        extra = {}
        if spec["architecture"].endswith("ForCTC"):
            extra[spec["prefix"] + "masked_spec_embed"] = torch.rand(spec["embed"], generator=gen)
        hf = to_huggingface(state, spec["prefix"], spec["parametrizations"], extra)
        write_safetensors(os.path.join(hf_dir, "model.safetensors"), hf, metadata={"format": "pt"},
                          dtype=spec["dtype"])
        with open(os.path.join(hf_dir, "config.json"), "w") as f:
            json.dump(hf_config(spec, spec["architecture"]), f, indent=1, sort_keys=True)
        if spec["normalize"]:
            with open(os.path.join(hf_dir, "preprocessor_config.json"), "w") as f:
                json.dump({"do_normalize": True, "feature_size": 1, "padding_value": 0.0,
                           "return_attention_mask": True, "sampling_rate": SAMPLE_RATE}, f, indent=1)

        # torchaudio's outputs: the model's own setting, and the other normalisation's last state
        own = normalise(wave) if spec["normalize"] else wave
        other = wave if spec["normalize"] else normalise(wave)
        hs, conv = hidden_states(model, own, spec["pre_norm"])
        hs_other, _ = hidden_states(model, other, spec["pre_norm"])
        save_npy(os.path.join(out, name + "_expected.npy"), hs)
        save_npy(os.path.join(out, name + "_conv.npy"), conv)
        save_npy(os.path.join(out, name + ("_expected_nonorm.npy" if spec["normalize"] else "_expected_norm.npy")),
                 hs_other[-1])
        print(f"{name}: hidden_states {list(hs.shape)}, conv {list(conv.shape)}")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"fixtures in {out}: {total / 1e6:.2f} MB")


FULL = {
    "hubert_base": torchaudio.models.hubert_base,
    "hubert_large": torchaudio.models.hubert_large,
    "wav2vec2_large_lv60k": torchaudio.models.wav2vec2_large_lv60k,
}


def make_full(name, out, seed):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    model = FULL[name]().eval()
    path = os.path.join(out, name + ".safetensors")
    write_safetensors(path, torchaudio_state(model), metadata={"emogene.note": "random weights, timing only"})
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                                  "features", "fixtures"))
    ap.add_argument("--full", choices=sorted(FULL), help="make a full-size random-weight model instead")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if a.full:
        make_full(a.full, a.out, a.seed)
    else:
        make_small(os.path.normpath(a.out))


if __name__ == "__main__":
    sys.exit(main())
