#!/usr/bin/python3
"""PyTorch peer of tools/bench/backbone.ts: the same backbone bodies, input sizes, warm-up and
run counts, timed on torch's CPU backend so Lumen's numbers have a reference.

Bodies are torchvision's own modules (random init), split as @lumen/backbone splits them:
ResNet conv1 … layer3, VGG-16 features[:30], MobileNetV2 features[:14]. BatchNorm is frozen
as Faster R-CNN freezes it (eval(), weight and bias without gradient) and the first
`--freeze-at` stages get no gradient (Detectron's FREEZE_AT, Lumen's `freezeAt`).
Forward is `body(x).sum().item()` under no_grad; forward+backward is the same sum and
`.backward()` to every trainable parameter (none for the input).

Usage: backbone_torch.py --rows=resnet50@608x800,… --warmup=N --runs=N --threads=N --freeze-at=N
(prints JSON on stdout; progress on stderr).
"""
import argparse
import json
import statistics
import sys

import torch
import torchvision
from torch import nn

from peer_timing import time_ms


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
    body.eval()
    for module in body.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.requires_grad_(False)
    for stage in frozen:
        for module in stage:
            module.requires_grad_(False)
    return body


def forward(model, x):
    with torch.no_grad():
        model(x).sum().item()


def forward_backward(model, x, params):
    for p in params:
        p.grad = None
    model(x).sum().backward()


def measure(row, warmup, runs, freeze_at):
    name, size = row.split('@')
    h, w = (int(v) for v in size.split('x'))
    model = build(name, freeze_at)
    x = torch.randn(1, 3, h, w)
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        out_shape = list(model(x).shape)
    fwd = time_ms(lambda: forward(model, x), warmup, runs)
    print(f'[torch] {row}: fwd {statistics.median(fwd):.1f} ms', file=sys.stderr, flush=True)
    fwd_bwd = time_ms(lambda: forward_backward(model, x, params), warmup, runs)
    print(f'[torch] {row}: fwd+bwd {statistics.median(fwd_bwd):.1f} ms', file=sys.stderr, flush=True)
    return {
        'id': row,
        'outputShape': out_shape,
        'trainableParams': sum(p.numel() for p in params),
        'fwdMs': statistics.median(fwd),
        'fwdBwdMs': statistics.median(fwd_bwd),
        'fwdSamples': fwd,
        'fwdBwdSamples': fwd_bwd,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', required=True)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--freeze-at', type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rows = [measure(r, args.warmup, args.runs, args.freeze_at) for r in args.rows.split(',') if r]
    json.dump({
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(),
        'mkldnn': torch.backends.mkldnn.is_available(),
        'rows': rows,
    }, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
