#!/usr/bin/python3
"""PyTorch peer of tools/bench/backbone/main.ts: the same backbone bodies, input sizes, warm-up and
run counts, timed on torch's CPU backend so Lumen's numbers have a reference.

Bodies are torchvision's own modules (random init), split as @lumen/backbone splits them:
ResNet conv1 … layer3, VGG-16 features[:30], MobileNetV2 features[:14]. BatchNorm is frozen
as Faster R-CNN freezes it (eval(), weight and bias without gradient) and the first
`--freeze-at` stages get no gradient (Detectron's FREEZE_AT, Lumen's `freezeAt`).
Forward and forward+backward are kit/peer.py's measure_phases (gradients to every
trainable parameter, none for the input).

Usage: backbone_torch.py --rows=resnet50@608x800,… --warmup=N --runs=N --threads=N --freeze-at=N
(prints JSON on stdout; progress on stderr).
"""
import os
import sys

import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def resnet_body(name, freeze_at):
    m = getattr(torchvision.models, name)(weights=None)
    stages = [[m.conv1, m.bn1], [m.layer1], [m.layer2], [m.layer3]]
    return nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3), stages[:freeze_at]


def vgg_body(freeze_at):
    features = torchvision.models.vgg16(weights=None).features[:30]
    # Stages: the conv blocks between max-pools (features 0-3, 5-8, 10-15, 17-22, 24-29).
    starts = [0, 5, 10, 17, 24, 30]
    stages = [[features[i] for i in range(starts[s], starts[s + 1])] for s in range(5)]
    return features, stages[:freeze_at]


def mobilenet_body(freeze_at):
    features = torchvision.models.mobilenet_v2(weights=None).features[:14]
    # Stages by output stride: features 0-1, 2-3, 4-6, 7-13.
    starts = [0, 2, 4, 7, 14]
    stages = [[features[i] for i in range(starts[s], starts[s + 1])] for s in range(4)]
    return features, stages[:freeze_at]


def build(name, freeze_at):
    if name.startswith('resnet'):
        body, frozen = resnet_body(name, freeze_at)
    elif name == 'vgg16':
        body, frozen = vgg_body(freeze_at)
    else:
        body, frozen = mobilenet_body(freeze_at)
    peer.freeze_batch_norm(body)
    for stage in frozen:
        for module in stage:
            module.requires_grad_(False)
    return body


def measure(row, warmup, runs, freeze_at):
    name, size = row.split('@')
    h, w = (int(v) for v in size.split('x'))
    return peer.measure_phases(row, build(name, freeze_at), torch.randn(1, 3, h, w), warmup, runs)


def main():
    parser = peer.arguments(__doc__, warmup=1, runs=5)
    parser.add_argument('--rows', required=True)
    parser.add_argument('--freeze-at', type=int, default=2)
    args = peer.parse(parser)
    torch.manual_seed(0)
    rows = [measure(r, args.warmup, args.runs, args.freeze_at) for r in args.rows.split(',') if r]
    peer.emit(peer.phases_result(rows))


if __name__ == '__main__':
    main()
