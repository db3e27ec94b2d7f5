"""What the PyTorch peers of tools/bench share: their command line, the timing loop, the
float32 files the TypeScript side hands over (kit/peer-data.ts), the forward and
forward+backward rows (kit/phase-report.ts) and the one JSON object each prints.

A peer finds this module through its own folder's parent:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
    import peer
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torchvision
from torch import nn


def arguments(doc, warmup, runs, threads=True):
    """A parser with --warmup and --runs (the bench's defaults) and, unless `threads` is
    false, --threads (torch's intra-op threads, 2 by default as on the TypeScript side)."""
    parser = argparse.ArgumentParser(description=doc.strip().split('\n')[0])
    parser.add_argument('--warmup', type=int, default=warmup)
    parser.add_argument('--runs', type=int, default=runs)
    if threads:
        parser.add_argument('--threads', type=int, default=2)
    return parser


def parse(parser):
    """The arguments, with torch's thread count set from --threads where there is one."""
    args = parser.parse_args()
    if hasattr(args, 'threads'):
        torch.set_num_threads(args.threads)
    return args


def parse_data(doc, warmup, runs):
    """The command line of a peer fed through a folder (--data=DIR, kit/peer-data.ts):
    its arguments and the folder's meta.json."""
    parser = arguments(doc, warmup, runs)
    parser.add_argument('--data', required=True)
    args = parse(parser)
    return args, meta(args.data)


def time_ms(fn, warmup, runs):
    """Wall milliseconds of `runs` calls of fn after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def timed(fn, warmup, runs):
    """A row as the TypeScript side's Timing: the median and every sample, in ms."""
    samples = time_ms(fn, warmup, runs)
    return {'ms': statistics.median(samples), 'samples': samples}


def versions():
    """Which torch computed the numbers, on how many threads."""
    return {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'threads': torch.get_num_threads()}


def emit(result):
    """The peer's answer: one JSON object on stdout (progress goes to stderr)."""
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


def load(folder, name, columns=None):
    """A float32 file the TypeScript side wrote, as a tensor ([-1, columns] when given)."""
    a = np.fromfile(os.path.join(folder, name), dtype='<f4')
    return torch.from_numpy(a.reshape(-1, columns) if columns else a)


def save(folder, name, t):
    """An answer for the TypeScript side to check its own against."""
    t.detach().numpy().astype('<f4').tofile(os.path.join(folder, name))


def meta(folder):
    with open(os.path.join(folder, 'meta.json')) as f:
        return json.load(f)


def freeze_batch_norm(model):
    """BatchNorm frozen as Faster R-CNN freezes it: running statistics (eval()), no gradient
    for its weight and bias, so backward computes conv-weight gradients only."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.requires_grad_(False)
    return model


def _forward(model, x):
    with torch.no_grad():
        model(x).sum().item()


def _forward_backward(model, x, params):
    for p in params:
        p.grad = None  # a fresh gradient each run, as tfjs's variableGrads returns
    model(x).sum().backward()


def measure_phases(row_id, model, x, warmup, runs):
    """Forward (`model(x).sum().item()` under no_grad) and forward+backward (the same sum,
    `.backward()` to every trainable parameter, none to the input), as a row of
    kit/phase-report.ts's TorchPhases."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        out_shape = list(model(x).shape)
    fwd = time_ms(lambda: _forward(model, x), warmup, runs)
    print(f'[torch] {row_id}: fwd {statistics.median(fwd):.1f} ms', file=sys.stderr, flush=True)
    fwd_bwd = time_ms(lambda: _forward_backward(model, x, params), warmup, runs)
    print(f'[torch] {row_id}: fwd+bwd {statistics.median(fwd_bwd):.1f} ms', file=sys.stderr, flush=True)
    return {
        'id': row_id,
        'outputShape': out_shape,
        'trainableParams': sum(p.numel() for p in params),
        'fwdMs': statistics.median(fwd),
        'fwdBwdMs': statistics.median(fwd_bwd),
        'fwdSamples': fwd,
        'fwdBwdSamples': fwd_bwd,
    }


def phases_result(rows):
    """What the runtime and backbone peers print: the versions, mkldnn, the rows."""
    return {**versions(), 'mkldnn': torch.backends.mkldnn.is_available(), 'rows': rows}
