#!/usr/bin/python3
"""PyTorch CPU reference for bench/train: trains the same architectures as
internal/model (seed, convnet) on random data and prints images/s.
Run with Debian's /usr/bin/python3 (python3-torch); never a dependency."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def seed_net():
    return nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 16 * 16, 10))


def convnet():
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2),
                         *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
                         *block(64, 128), *block(128, 128), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128 * 4 * 4, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="convnet")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=1024)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = seed_net() if a.arch == "seed" else convnet()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 10, (a.batch,))
    steps = max(1, (a.images + a.batch - 1) // a.batch)

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print("%.1f" % (steps * a.batch / (time.perf_counter() - t0)))


if __name__ == "__main__":
    main()
