#!/usr/bin/python3
"""torchvision peer for tools/bench/heads/main.ts: times torchvision's RPN and RoIHeads steps on
the inputs the TypeScript side wrote (raw little-endian float32 files in --data, shapes in
meta.json), writes its answers beside them and prints one JSON object with the timings.

    /usr/bin/python3 tools/bench/heads/heads_torch.py --data=DIR [--warmup=3] [--runs=15] [--threads=2]

Rows (what torchvision runs for the same step):
  proposals        RegionProposalNetwork: box_coder.decode of every anchor + filter_proposals
  anchor-targets   assign_targets_to_anchors + box_coder.encode + fg_bg_sampler
  proposal-targets RoIHeads.select_training_samples
  postprocess      RoIHeads.postprocess_detections
"""
import os
import sys

import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def main():
    args, meta = peer.parse_data(__doc__, warmup=3, runs=15)

    anchors = peer.load(args.data, 'anchors.f32', 4)
    objectness = peer.load(args.data, 'objectness.f32').reshape(-1, 1)  # [K, 1], NHWC flatten order
    deltas = peer.load(args.data, 'deltas.f32', 4)
    gt = peer.load(args.data, 'gt_boxes.f32', 4)
    gt_labels = peer.load(args.data, 'gt_labels.f32').long()
    rcnn_proposals = peer.load(args.data, 'rcnn_proposals.f32', 4)
    det_proposals = peer.load(args.data, 'det_proposals.f32', 4)
    det_logits = peer.load(args.data, 'det_logits.f32', meta['numClasses'])
    det_deltas = peer.load(args.data, 'det_deltas.f32', 4 * meta['numClasses'])
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
        'proposals': peer.timed(proposals, args.warmup, args.runs),
        'anchor-targets': peer.timed(anchor_targets, args.warmup, args.runs),
        'proposal-targets': peer.timed(proposal_targets, args.warmup, args.runs),
        'postprocess': peer.timed(postprocess, args.warmup, args.runs),
    }
    print('[torch] torch {torch}, torchvision {torchvision}, {threads} threads'.format(**peer.versions()), file=sys.stderr)

    # Answers the TypeScript side checks its own against.
    boxes, scores = proposals()
    peer.save(args.data, 'torch_proposals.f32', boxes[0])
    peer.save(args.data, 'torch_proposal_scores.f32', scores[0])
    labels, _, pos, neg = anchor_targets()
    _, _, sampled_labels, _ = proposal_targets()
    det_boxes, det_scores, det_labels = postprocess()
    peer.save(args.data, 'torch_det_boxes.f32', det_boxes[0])
    peer.save(args.data, 'torch_det_scores.f32', det_scores[0])
    peer.emit({
        **peer.versions(),
        'rows': rows,
        'anchorCandidates': {'fg': int((labels[0] == 1).sum()), 'bg': int((labels[0] == 0).sum())},
        'anchorSample': {'fg': int(pos[0].sum()), 'bg': int(neg[0].sum())},
        'proposalSample': {'fg': int((sampled_labels[0] > 0).sum()), 'bg': int((sampled_labels[0] == 0).sum())},
        'detLabels': det_labels[0].tolist(),
    })


if __name__ == '__main__':
    main()
