#!/usr/bin/python3
"""torchvision peer for tools/bench/roi_pool.ts: times torchvision.ops.roi_align on the inputs
the TypeScript side wrote (raw little-endian float32 files in --data), prints one JSON object,
and leaves its answers in --data for the TypeScript side to check its own against.

    /usr/bin/python3 tools/bench/roi_pool_torch.py --data=DIR [--warmup=1] [--runs=5] [--threads=2]

Inputs: features.f32 (NHWC, shape in meta.json), boxes.f32 ([R, 4] input pixels, all on
image 0). The upstream gradient of the backward rows is not a file: both sides compute it
from its index (upstream_gradient below), bit for bit the same float32 values.
Outputs: torch_out7.f32 (the 7x7 forward, [R, 7, 7, C]) and torch_grad14.f32 (the 14x14
gradient w.r.t. the features, NHWC).
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np
import torch
import torchvision
from torchvision.ops import roi_align

from peer_timing import time_ms


def upstream_gradient(count):
    """u(k) = ((k * 2654435761) mod 2^32) / 2^32 - 0.5 as float32 — roi_pool.ts computes the same."""
    k = np.arange(count, dtype=np.uint64)
    return (((k * np.uint64(2654435761)) % np.uint64(2 ** 32)).astype(np.float64) / 2 ** 32 - 0.5).astype(np.float32)


def timed(fn, warmup, runs):
    samples = time_ms(fn, warmup, runs)
    return {'ms': statistics.median(samples), 'samples': samples}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.data, 'meta.json')) as f:
        meta = json.load(f)
    n, h, w, c = meta['shape']
    scale, ratio = meta['spatialScale'], meta['samplingRatio']

    nhwc = np.fromfile(os.path.join(args.data, 'features.f32'), dtype='<f4').reshape(n, h, w, c)
    features = torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()
    boxes = torch.from_numpy(np.fromfile(os.path.join(args.data, 'boxes.f32'), dtype='<f4').reshape(-1, 4))
    rois = torch.cat([torch.zeros(boxes.shape[0], 1), boxes], dim=1)
    count = boxes.shape[0]
    dy14 = torch.from_numpy(upstream_gradient(count * 14 * 14 * c).reshape(count, 14, 14, c)).permute(0, 3, 1, 2).contiguous()
    x = features.clone().requires_grad_(True)

    def forward(size):
        with torch.no_grad():
            return roi_align(features, rois, size, spatial_scale=scale, sampling_ratio=ratio, aligned=False)

    def forward_backward():
        out = roi_align(x, rois, (14, 14), spatial_scale=scale, sampling_ratio=ratio, aligned=False)
        out.backward(dy14)
        grad = x.grad
        x.grad = None
        return grad

    rows = {}
    for row, fn in (('align7-fwd', lambda: forward((7, 7))), ('align14-fwd', lambda: forward((14, 14))), ('align14-fwdbwd', forward_backward)):
        print(f'[torch] {row}: {args.warmup} warm-up + {args.runs} runs', file=sys.stderr)
        rows[row] = timed(fn, args.warmup, args.runs)
        print(f'[torch] {row}: {rows[row]["ms"]:.1f} ms', file=sys.stderr)

    forward((7, 7)).permute(0, 2, 3, 1).numpy().astype('<f4').tofile(os.path.join(args.data, 'torch_out7.f32'))
    forward_backward().permute(0, 2, 3, 1).numpy().astype('<f4').tofile(os.path.join(args.data, 'torch_grad14.f32'))
    json.dump({
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(),
        'rows': rows,
    }, sys.stdout)


if __name__ == '__main__':
    main()
