#!/usr/bin/python3
"""PyTorch peer of tools/bench/runtime/main.ts: the same rows, shapes, warm-up and run counts,
timed on torch's CPU backend so Lumen's numbers have a reference.

Rows mirror tools/bench/runtime/rows.ts in NCHW. Forward and forward+backward are
kit/peer.py's measure_phases: gradients for every conv weight and none for the input (as
in the TypeScript side), except in the dw* rows, whose input is a parameter too.

The ResNet-50 trunk is torchvision's own module (conv1, bn1, relu, maxpool, layer1..3 of
`resnet50(weights=None)`). Its BatchNorm is frozen the way Faster R-CNN freezes it
(kit/peer.py's freeze_batch_norm), so backward computes conv-weight gradients only, like
Lumen's constant multiply + add.

Usage: runtime_torch.py --rows=a,b --warmup=N --runs=N --threads=N   (prints JSON on stdout;
progress goes to stderr).
"""
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def single_conv(out_channels, kernel, stride, padding, groups=1):
    """One bias-free conv on a 1x64x128x128 input (tfjs's conv2d has no bias either)."""
    conv = nn.Conv2d(64, out_channels, kernel, stride=stride, padding=padding, groups=groups, bias=False)
    return conv, (1, 64, 128, 128)


class DepthwiseWithInput(nn.Module):
    """One depthwise conv whose input is a parameter too, so backward computes the input
    gradient as well as the kernel's (rows.ts's `depthwise`)."""

    def __init__(self, size, channels, kernel, stride):
        super().__init__()
        self.x = nn.Parameter(torch.randn(1, channels, size, size))
        self.conv = nn.Conv2d(channels, channels, kernel, stride=stride, padding=(kernel - 1) // 2, groups=channels, bias=False)

    def forward(self, _):
        return self.conv(self.x)


def depthwise_with_input(size, channels, kernel, stride):
    return DepthwiseWithInput(size, channels, kernel, stride), (1,)


def resnet50_to_layer3():
    net = torchvision.models.resnet50(weights=None)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
    return peer.freeze_batch_norm(trunk), (1, 3, 608, 800)


# Keys are the torchId values of tools/bench/runtime/rows.ts.
ROWS = {
    "conv3x3_s1": lambda: single_conv(64, 3, 1, 1),
    "conv3x3_s2": lambda: single_conv(64, 3, 2, 1),
    "conv1x1_256": lambda: single_conv(256, 1, 1, 0),
    "dwconv3x3": lambda: single_conv(64, 3, 1, 1, groups=64),
    "resnet50_layer3": resnet50_to_layer3,
}
# MobileNetV3-Large's depthwise convs: (size, channels, kernel, stride).
for _size, _channels, _k, _stride in [(112, 64, 3, 2), (56, 72, 3, 1), (56, 72, 5, 2), (28, 120, 5, 1), (14, 480, 3, 1), (7, 960, 5, 1)]:
    ROWS[f"dw{_k}x{_k}_s{_stride}_{_size}x{_channels}"] = (
        lambda s=_size, c=_channels, k=_k, st=_stride: depthwise_with_input(s, c, k, st))


def measure(row_id, warmup, runs):
    model, shape = ROWS[row_id]()
    x = torch.randn(*shape)  # requires_grad=False: no input gradient
    return peer.measure_phases(row_id, model, x, warmup, runs)


def main():
    parser = peer.arguments(__doc__, warmup=1, runs=5)
    parser.add_argument("--rows", default=",".join(ROWS))
    args = peer.parse(parser)
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")

    torch.manual_seed(0)
    peer.emit(peer.phases_result([measure(r, args.warmup, args.runs) for r in rows]))


if __name__ == "__main__":
    main()
