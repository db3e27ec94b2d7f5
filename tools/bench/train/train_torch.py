"""PyTorch peer of tools/bench/train/main.ts: torchvision's FasterRCNN built to Lumen's bench design —
--design=c4: ResNet-50 body to layer3 (frozen BN; --freeze-at=2 freezes stem + layer1, 1 the stem, 0 nothing), one
feature map, anchors 64/128/256/512 x 0.5/1/2, RoIAlign 7x7 sampling 2, TwoMLPHead 1024, 21 classes, one 600x800
image; --design=fpn: torchvision's fasterrcnn_resnet50_fpn as built for pretrained weights (frozen BN, trainable layers 5 - freeze-at, 91 classes), --batch
images of 800x1333 per training step, one per inference. Random weights. Times a training step (forward, backward,
SGD step) and an inference; reports the process's peak resident set. Prints JSON on stdout.
"""
import os
import resource
import sys

import torch
import torchvision
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


def build(freeze_at):
    resnet = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    body = torch.nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1, resnet.layer2, resnet.layer3)
    for module in [resnet.conv1, resnet.layer1][:freeze_at]:
        for p in module.parameters():
            p.requires_grad_(False)
    body.out_channels = 1024
    anchors = AnchorGenerator(sizes=((64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    pool = MultiScaleRoIAlign(featmap_names=['0'], output_size=7, sampling_ratio=2)
    head = TwoMLPHead(1024 * 7 * 7, 1024)
    predictor = FastRCNNPredictor(1024, 21)
    return FasterRCNN(body, num_classes=None, min_size=600, max_size=1000, rpn_anchor_generator=anchors,
                      box_roi_pool=pool, box_head=head, box_predictor=predictor)


def build_fpn(freeze_at):
    # fasterrcnn_resnet50_fpn's own construction for pretrained weights (frozen BN, trainable layers); without
    # weights the builder would train every layer and its batch norms.
    resnet = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    return FasterRCNN(_resnet_fpn_extractor(resnet, 5 - freeze_at), num_classes=91)


def main():
    parser = peer.arguments(__doc__, warmup=1, runs=3)
    parser.add_argument('--freeze-at', type=int, default=2, choices=[0, 1, 2])
    parser.add_argument('--design', default='c4', choices=['c4', 'fpn'])
    parser.add_argument('--batch', type=int, default=1)
    a = peer.parse(parser)
    torch.manual_seed(0)
    if a.design == 'fpn':
        model = build_fpn(a.freeze_at)
        images = [torch.rand(3, 800, 1333) for _ in range(a.batch)]
        boxes = [[50., 60., 250., 300.], [300., 100., 700., 500.], [900., 350., 1200., 780.]]
    else:
        model = build(a.freeze_at)
        images = [torch.rand(3, 600, 800) for _ in range(a.batch)]
        boxes = [[50., 60., 250., 300.], [300., 100., 700., 500.], [400., 350., 520., 580.]]
    targets = [{'boxes': torch.tensor(boxes), 'labels': torch.tensor([3, 7, 12])} for _ in images]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, weight_decay=1e-4)

    def train_step():
        model.train()
        losses = model(images, targets)
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer():
        model.eval()
        with torch.no_grad():
            model(images[:1])

    print('[torch] training steps', file=sys.stderr)
    train = peer.time_ms(train_step, a.warmup, a.runs)
    print('[torch] inference', file=sys.stderr)
    inference = peer.time_ms(infer, a.warmup, a.runs)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peer.emit({**peer.versions(), 'train': train, 'inference': inference, 'peakRssBytes': peak_kib * 1024})


if __name__ == '__main__':
    main()
