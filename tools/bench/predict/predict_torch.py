#!/usr/bin/python3
"""torchvision peer for tools/bench/predict/main.ts: latency of one 600x800 image through a
ResNet-50 C4 Faster R-CNN with random weights (torchvision's FasterRCNN with the ResNet-50
body up to layer3, stride 16, 1024 channels; RoIAlign 14x14, sampling ratio 2; layer4 +
average pool as the box head; 21 classes; one feature map with anchors 32..512 x 0.5, 1, 2;
test-time RPN 1000/1000, score 0.05, NMS 0.5, 100 detections). Prints one JSON object.

    /usr/bin/python3 tools/bench/predict/predict_torch.py [--warmup=1] [--runs=3] [--threads=2]
"""
import os
import sys

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


class Tail(nn.Module):
    """The C4 box head: ResNet layer4 on the pooled 14x14 RoIs, then average pooling."""

    def __init__(self, layer4):
        super().__init__()
        self.layer4 = layer4

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.layer4(x), 1), 1)


def c4_model(num_classes=21):
    torch.manual_seed(0)
    r = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    body = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3)
    body.out_channels = 1024
    model = FasterRCNN(
        body,
        num_classes=None,
        min_size=600,
        max_size=1000,
        rpn_anchor_generator=AnchorGenerator(sizes=((32, 64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(featmap_names=['0'], output_size=14, sampling_ratio=2),
        box_head=Tail(r.layer4),
        box_predictor=FastRCNNPredictor(2048, num_classes),
    )
    # As on the Lumen side: random box deltas of the RPN would move every proposal off the
    # image; scaled down, they stay near their anchors (1000 RoIs through the head).
    with torch.no_grad():
        model.rpn.head.bbox_pred.weight.mul_(1e-3)
    return model.eval()


def main():
    args = peer.parse(peer.arguments(__doc__, warmup=1, runs=3))
    model = c4_model()
    torch.manual_seed(1)
    image = torch.rand(3, 600, 800)
    detections = []
    proposals = []
    model.rpn.register_forward_hook(lambda _m, _i, out: proposals.append(len(out[0][0])))

    def run():
        with torch.no_grad():
            out = model([image])
        detections.append(len(out[0]['boxes']))

    timing = peer.timed(run, args.warmup, args.runs)
    peer.emit({
        **peer.versions(),
        **timing,
        'detections': detections[-1],
        'proposals': proposals[-1],
    })


if __name__ == '__main__':
    main()
