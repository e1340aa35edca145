#!/usr/bin/python3
"""PyTorch CPU reference for the serving load test.

Builds the network described by a model folder's model.json (the layer
list model-release writes), loads model.safetensors with a tiny reader (no
safetensors module needed), optionally checks that it gives the same top-3
answer as the Go server for one image (--check, written by
`go run ./bench/serve --dump`), and measures inference images/s at batch 1
and batch 64. Prints key=value lines for run.sh.
"""
import argparse
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {e['dtype']}, only F32 is read")
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).reshape(e["shape"])
        out[name] = t.clone()
    return out


def build(meta, weights):
    mods = []
    for l in meta["layers"]:
        if l["kind"] == "conv":
            conv = nn.Conv2d(l["in"], l["out"], 3, padding=1)
            conv.weight.data.copy_(weights[l["name"] + ".weight"])
            conv.bias.data.copy_(weights[l["name"] + ".bias"])
            mods.append(conv)
            if l.get("bn"):
                bn = nn.BatchNorm2d(l["out"])
                for k in ("weight", "bias", "running_mean", "running_var"):
                    getattr(bn, k).data.copy_(weights[l["bn"] + "." + k])
                mods.append(bn)
            mods.append(nn.ReLU())
        elif l["kind"] == "pool":
            mods.append(nn.MaxPool2d(l["size"]))
        elif l["kind"] == "linear":
            lin = nn.Linear(l["in"], l["out"])
            lin.weight.data.copy_(weights[l["name"] + ".weight"])
            lin.bias.data.copy_(weights[l["name"] + ".bias"])
            mods += [nn.Flatten(), lin]
        else:
            raise SystemExit(f"unknown layer kind {l['kind']!r}")
    return nn.Sequential(*mods).eval()


def normalize(raw, meta):
    x = raw.float() / 255.0
    mean = torch.tensor(meta["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(meta["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


def rate(net, x, seconds):
    with torch.no_grad():
        net(x)  # warm-up
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            net(x)
            n += x.shape[0]
        return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="model folder (model.json + model.safetensors)")
    ap.add_argument("--check", help="JSON written by bench/serve --dump")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with open(os.path.join(args.model, "model.json")) as f:
        meta = json.load(f)
    net = build(meta, read_safetensors(os.path.join(args.model, "model.safetensors")))
    print(f"torch_version={torch.__version__} threads={torch.get_num_threads()} architecture={meta['architecture']}")

    if args.check:
        with open(args.check) as f:
            want = json.load(f)
        raw = torch.tensor(list(bytes.fromhex(want["image_chw_hex"])), dtype=torch.uint8).view(1, 3, 32, 32)
        with torch.no_grad():
            probs = torch.softmax(net(normalize(raw, meta)).double(), dim=1)[0]
        top = torch.argsort(probs, descending=True)[:3].tolist()
        got = [meta["classes"][i] for i in top]
        exp = [c["class"] for c in want["prediction"]["top_k"]]
        diff = max(abs(float(probs[meta["classes"].index(c["class"])]) - c["probability"]) for c in want["prediction"]["top_k"])
        ok = got == exp and diff < 1e-4
        print(f"cross_check={'ok' if ok else 'MISMATCH'} torch_top3={got} go_top3={exp} max_prob_diff={diff:.2e}")
        if not ok:
            sys.exit(1)

    x1 = normalize(torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8), meta)
    x64 = normalize(torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8), meta)
    print(f"torch_batch1_images_per_sec={rate(net, x1, args.seconds):.1f}")
    print(f"torch_batch64_images_per_sec={rate(net, x64, args.seconds):.1f}")


if __name__ == "__main__":
    main()
