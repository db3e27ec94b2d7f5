"""PyTorch peer of tools/bench/train/main.ts: torchvision's FasterRCNN built to Lumen's bench design —
ResNet-50 body to layer3 (frozen BN; --freeze-at=2 freezes stem + layer1, 1 the stem, 0 nothing), one feature map, anchors
64/128/256/512 x 0.5/1/2, RoIAlign 7x7 sampling 2, TwoMLPHead 1024, 21 classes — random
weights, one 600x800 image. Times a training step (forward, backward, SGD step) and an
inference. Prints JSON on stdout.
"""
import os
import sys

import torch
import torchvision
from torchvision.models.detection import FasterRCNN
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


def main():
    parser = peer.arguments(__doc__, warmup=1, runs=3)
    parser.add_argument('--freeze-at', type=int, default=2, choices=[0, 1, 2])
    a = peer.parse(parser)
    torch.manual_seed(0)
    model = build(a.freeze_at)
    image = torch.rand(3, 600, 800)
    target = {'boxes': torch.tensor([[50., 60., 250., 300.], [300., 100., 700., 500.], [400., 350., 520., 580.]]),
              'labels': torch.tensor([3, 7, 12])}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, weight_decay=1e-4)

    def train_step():
        model.train()
        losses = model([image], [target])
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer():
        model.eval()
        with torch.no_grad():
            model([image])

    print('[torch] training steps', file=sys.stderr)
    train = peer.time_ms(train_step, a.warmup, a.runs)
    print('[torch] inference', file=sys.stderr)
    inference = peer.time_ms(infer, a.warmup, a.runs)
    peer.emit({**peer.versions(), 'train': train, 'inference': inference})


if __name__ == '__main__':
    main()
