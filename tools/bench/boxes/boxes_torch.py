#!/usr/bin/python3
"""torchvision peer for tools/bench/boxes/main.ts: times torchvision.ops on the inputs the
TypeScript side wrote (raw little-endian float32 files in --data), prints one JSON object.

    /usr/bin/python3 tools/bench/boxes/boxes_torch.py --data=DIR [--warmup=3] [--runs=15] [--threads=2]
"""
import os
import sys

import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def main():
    args, meta = peer.parse_data(__doc__, warmup=3, runs=15)

    proposals = peer.load(args.data, 'proposals.f32', 4)
    scores = peer.load(args.data, 'scores.f32')
    anchors = peer.load(args.data, 'iou_anchors.f32', 4)
    gt = peer.load(args.data, 'iou_gt.f32', 4)
    cell_anchors = peer.load(args.data, 'cell_anchors.f32', 4)
    threshold, keep_n = meta['iouThreshold'], meta['postNms']
    height, width, stride = meta['gridHeight'], meta['gridWidth'], meta['stride']

    generator = AnchorGenerator()
    generator.cell_anchors = [cell_anchors]
    strides = [[torch.tensor(stride), torch.tensor(stride)]]

    rows = {
        'nms': peer.timed(lambda: torchvision.ops.nms(proposals, scores, threshold)[:keep_n], args.warmup, args.runs),
        'nms-all': peer.timed(lambda: torchvision.ops.nms(proposals, scores, threshold), args.warmup, args.runs),
        'box-iou': peer.timed(lambda: torchvision.ops.box_iou(anchors, gt), args.warmup, args.runs),
        'grid-anchors': peer.timed(lambda: generator.grid_anchors([[height, width]], strides), args.warmup, args.runs),
    }
    print('[torch] torch {torch}, torchvision {torchvision}, {threads} threads'.format(**peer.versions()), file=sys.stderr)

    # What the TypeScript side checks its own answers against.
    keep = torchvision.ops.nms(proposals, scores, threshold)
    iou = torchvision.ops.box_iou(anchors, gt)
    grid = generator.grid_anchors([[height, width]], strides)[0]
    peer.save(args.data, 'torch_grid.f32', grid)
    peer.save(args.data, 'torch_iou.f32', iou.nan_to_num(0.0))
    peer.emit({**peer.versions(), 'rows': rows, 'nmsKeep': keep.tolist()})


if __name__ == '__main__':
    main()
