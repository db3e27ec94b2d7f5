#!/usr/bin/python3
"""PyTorch peer of tools/bench/runtime.ts: the same rows, shapes, warm-up and run counts,
timed on torch's CPU backend so Lumen's numbers have a reference.

Rows mirror tools/bench/rows.ts in NCHW. Forward is `model(x).sum().item()` under
torch.no_grad(); forward+backward is the same sum, `.backward()`, with gradients for
every conv weight and none for the input (as in the TypeScript side).

The ResNet-50 trunk is torchvision's own module (conv1, bn1, relu, maxpool, layer1..3 of
`resnet50(weights=None)`). Its BatchNorm is frozen the way Faster R-CNN freezes it:
`.eval()` (running statistics, no updates) and `requires_grad_(False)` on BN weight and
bias, so backward computes conv-weight gradients only, like Lumen's constant
multiply + add.

Usage: runtime_torch.py --rows=a,b --warmup=N --runs=N --threads=N   (prints JSON on stdout;
progress goes to stderr).
"""
import argparse
import json
import statistics
import sys

import torch
import torchvision
from torch import nn

from peer_timing import time_ms


def single_conv(out_channels, kernel, stride, padding, groups=1):
    """One bias-free conv on a 1x64x128x128 input (tfjs's conv2d has no bias either)."""
    conv = nn.Conv2d(64, out_channels, kernel, stride=stride, padding=padding, groups=groups, bias=False)
    return conv, (1, 64, 128, 128)


def resnet50_to_layer3():
    net = torchvision.models.resnet50(weights=None)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
    trunk.eval()
    for module in trunk.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.requires_grad_(False)
    return trunk, (1, 3, 608, 800)


# Keys are the torchId values of tools/bench/rows.ts.
ROWS = {
    "conv3x3_s1": lambda: single_conv(64, 3, 1, 1),
    "conv3x3_s2": lambda: single_conv(64, 3, 2, 1),
    "conv1x1_256": lambda: single_conv(256, 1, 1, 0),
    "dwconv3x3": lambda: single_conv(64, 3, 1, 1, groups=64),
    "resnet50_layer3": resnet50_to_layer3,
}


def forward(model, x):
    with torch.no_grad():
        model(x).sum().item()


def forward_backward(model, x, params):
    for p in params:
        p.grad = None  # a fresh gradient each run, as tfjs's variableGrads returns
    loss = model(x).sum()
    loss.backward()


def measure(row_id, warmup, runs):
    model, shape = ROWS[row_id]()
    x = torch.randn(*shape)  # requires_grad=False: no input gradient
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        out_shape = list(model(x).shape)
    fwd = time_ms(lambda: forward(model, x), warmup, runs)
    print(f"[torch] {row_id}: fwd {statistics.median(fwd):.1f} ms", file=sys.stderr, flush=True)
    fwd_bwd = time_ms(lambda: forward_backward(model, x, params), warmup, runs)
    print(f"[torch] {row_id}: fwd+bwd {statistics.median(fwd_bwd):.1f} ms", file=sys.stderr, flush=True)
    return {
        "id": row_id,
        "outputShape": out_shape,
        "trainableParams": sum(p.numel() for p in params),
        "fwdMs": statistics.median(fwd),
        "fwdBwdMs": statistics.median(fwd_bwd),
        "fwdSamples": fwd,
        "fwdBwdSamples": fwd_bwd,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    results = [measure(r, args.warmup, args.runs) for r in rows]
    json.dump(
        {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "threads": torch.get_num_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "rows": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
