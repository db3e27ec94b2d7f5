#!/usr/bin/python3
"""torchvision peer for tools/bench/boxes.ts: times torchvision.ops on the inputs the
TypeScript side wrote (raw little-endian float32 files in --data), prints one JSON object.

    /usr/bin/python3 tools/bench/boxes_torch.py --data=DIR [--warmup=3] [--runs=15] [--threads=2]
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator

from peer_timing import time_ms


def load(folder, name, columns=None):
    a = np.fromfile(os.path.join(folder, name), dtype='<f4')
    return torch.from_numpy(a.reshape(-1, columns) if columns else a)


def timed(fn, warmup, runs):
    samples = time_ms(fn, warmup, runs)
    return {'ms': statistics.median(samples), 'samples': samples}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', required=True)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--runs', type=int, default=15)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.data, 'meta.json')) as f:
        meta = json.load(f)

    proposals = load(args.data, 'proposals.f32', 4)
    scores = load(args.data, 'scores.f32')
    anchors = load(args.data, 'iou_anchors.f32', 4)
    gt = load(args.data, 'iou_gt.f32', 4)
    cell_anchors = load(args.data, 'cell_anchors.f32', 4)
    threshold, keep_n = meta['iouThreshold'], meta['postNms']
    height, width, stride = meta['gridHeight'], meta['gridWidth'], meta['stride']

    generator = AnchorGenerator()
    generator.cell_anchors = [cell_anchors]
    strides = [[torch.tensor(stride), torch.tensor(stride)]]

    rows = {
        'nms': timed(lambda: torchvision.ops.nms(proposals, scores, threshold)[:keep_n], args.warmup, args.runs),
        'nms-all': timed(lambda: torchvision.ops.nms(proposals, scores, threshold), args.warmup, args.runs),
        'box-iou': timed(lambda: torchvision.ops.box_iou(anchors, gt), args.warmup, args.runs),
        'grid-anchors': timed(lambda: generator.grid_anchors([[height, width]], strides), args.warmup, args.runs),
    }
    print(f'[torch] torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads', file=sys.stderr)

    # What the TypeScript side checks its own answers against.
    keep = torchvision.ops.nms(proposals, scores, threshold)
    iou = torchvision.ops.box_iou(anchors, gt)
    grid = generator.grid_anchors([[height, width]], strides)[0]
    grid.numpy().astype('<f4').tofile(os.path.join(args.data, 'torch_grid.f32'))
    iou.nan_to_num(0.0).numpy().astype('<f4').tofile(os.path.join(args.data, 'torch_iou.f32'))
    json.dump({
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(),
        'rows': rows,
        'nmsKeep': keep.tolist(),
    }, sys.stdout)


if __name__ == '__main__':
    main()
