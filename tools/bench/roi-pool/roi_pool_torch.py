#!/usr/bin/python3
"""torchvision peer for tools/bench/roi-pool/main.ts: times torchvision.ops.roi_align on the inputs
the TypeScript side wrote (raw little-endian float32 files in --data), prints one JSON object,
and leaves its answers in --data for the TypeScript side to check its own against.

    /usr/bin/python3 tools/bench/roi-pool/roi_pool_torch.py --data=DIR [--warmup=1] [--runs=5] [--threads=2]

Inputs: features.f32 (NHWC, shape in meta.json), boxes.f32 ([R, 4] input pixels, all on
image 0). The upstream gradient of the backward rows is not a file: both sides compute it
from its index (upstream_gradient below), bit for bit the same float32 values.
Outputs: torch_out7.f32 (the 7x7 forward, [R, 7, 7, C]) and torch_grad14.f32 (the 14x14
gradient w.r.t. the features, NHWC).
"""
import os
import sys

import numpy as np
import torch
from torchvision.ops import roi_align

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def upstream_gradient(count):
    """u(k) = ((k * 2654435761) mod 2^32) / 2^32 - 0.5 as float32 — main.ts computes the same."""
    k = np.arange(count, dtype=np.uint64)
    return (((k * np.uint64(2654435761)) % np.uint64(2 ** 32)).astype(np.float64) / 2 ** 32 - 0.5).astype(np.float32)


def main():
    args, meta = peer.parse_data(__doc__, warmup=1, runs=5)
    n, h, w, c = meta['shape']
    scale, ratio = meta['spatialScale'], meta['samplingRatio']

    features = peer.load(args.data, 'features.f32').reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()
    boxes = peer.load(args.data, 'boxes.f32', 4)
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
        rows[row] = peer.timed(fn, args.warmup, args.runs)
        print(f'[torch] {row}: {rows[row]["ms"]:.1f} ms', file=sys.stderr)

    peer.save(args.data, 'torch_out7.f32', forward((7, 7)).permute(0, 2, 3, 1))
    peer.save(args.data, 'torch_grad14.f32', forward_backward().permute(0, 2, 3, 1))
    peer.emit({**peer.versions(), 'rows': rows})


if __name__ == '__main__':
    main()
