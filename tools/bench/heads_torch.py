#!/usr/bin/python3
"""torchvision peer for tools/bench/heads.ts: times torchvision's RPN and RoIHeads steps on
the inputs the TypeScript side wrote (raw little-endian float32 files in --data, shapes in
meta.json), writes its answers beside them and prints one JSON object with the timings.

    /usr/bin/python3 tools/bench/heads_torch.py --data=DIR [--warmup=3] [--runs=15] [--threads=2]

Rows (what torchvision runs for the same step):
  proposals        RegionProposalNetwork: box_coder.decode of every anchor + filter_proposals
  anchor-targets   assign_targets_to_anchors + box_coder.encode + fg_bg_sampler
  proposal-targets RoIHeads.select_training_samples
  postprocess      RoIHeads.postprocess_detections
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
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead

from peer_timing import time_ms


def load(folder, name, columns=None):
    a = np.fromfile(os.path.join(folder, name), dtype='<f4')
    return torch.from_numpy(a.reshape(-1, columns) if columns else a)


def save(folder, name, t):
    t.detach().numpy().astype('<f4').tofile(os.path.join(folder, name))


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

    anchors = load(args.data, 'anchors.f32', 4)
    objectness = load(args.data, 'objectness.f32').reshape(-1, 1)  # [K, 1], NHWC flatten order
    deltas = load(args.data, 'deltas.f32', 4)
    gt = load(args.data, 'gt_boxes.f32', 4)
    gt_labels = torch.from_numpy(np.fromfile(os.path.join(args.data, 'gt_labels.f32'), dtype='<f4').astype(np.int64))
    rcnn_proposals = load(args.data, 'rcnn_proposals.f32', 4)
    det_proposals = load(args.data, 'det_proposals.f32', 4)
    det_logits = load(args.data, 'det_logits.f32', meta['numClasses'])
    det_deltas = load(args.data, 'det_deltas.f32', 4 * meta['numClasses'])
    image_size = tuple(meta['imageSize'])
    k = anchors.shape[0]

    rpn = RegionProposalNetwork(AnchorGenerator(), RPNHead(1, 1), 0.7, 0.3, 256, 0.5,
                                dict(training=meta['preNmsTopN'], testing=meta['preNmsTopN']),
                                dict(training=meta['postNmsTopN'], testing=meta['postNmsTopN']), meta['nmsThresh'])
    rpn.train()
    heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, None, 0.05, 0.5, 100)

    def proposals():
        with torch.no_grad():
            decoded = rpn.box_coder.decode(deltas, [anchors]).view(1, -1, 4)
            return rpn.filter_proposals(decoded, objectness, [image_size], [k])

    def anchor_targets():
        labels, matched = rpn.assign_targets_to_anchors([anchors], [{'boxes': gt}])
        regression = rpn.box_coder.encode(matched, [anchors])
        pos, neg = rpn.fg_bg_sampler(labels)
        return labels, regression, pos, neg

    def proposal_targets():
        return heads.select_training_samples([rcnn_proposals], [{'boxes': gt, 'labels': gt_labels}])

    def postprocess():
        return heads.postprocess_detections(det_logits, det_deltas, [det_proposals], [image_size])

    rows = {
        'proposals': timed(proposals, args.warmup, args.runs),
        'anchor-targets': timed(anchor_targets, args.warmup, args.runs),
        'proposal-targets': timed(proposal_targets, args.warmup, args.runs),
        'postprocess': timed(postprocess, args.warmup, args.runs),
    }
    print(f'[torch] torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads', file=sys.stderr)

    # Answers the TypeScript side checks its own against.
    boxes, scores = proposals()
    save(args.data, 'torch_proposals.f32', boxes[0])
    save(args.data, 'torch_proposal_scores.f32', scores[0])
    labels, _, pos, neg = anchor_targets()
    _, _, sampled_labels, _ = proposal_targets()
    det_boxes, det_scores, det_labels = postprocess()
    save(args.data, 'torch_det_boxes.f32', det_boxes[0])
    save(args.data, 'torch_det_scores.f32', det_scores[0])
    json.dump({
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'threads': torch.get_num_threads(),
        'rows': rows,
        'anchorCandidates': {'fg': int((labels[0] == 1).sum()), 'bg': int((labels[0] == 0).sum())},
        'anchorSample': {'fg': int(pos[0].sum()), 'bg': int(neg[0].sum())},
        'proposalSample': {'fg': int((sampled_labels[0] > 0).sum()), 'bg': int((sampled_labels[0] == 0).sum())},
        'detLabels': det_labels[0].tolist(),
    }, sys.stdout)


if __name__ == '__main__':
    main()
