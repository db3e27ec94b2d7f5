#!/usr/bin/python3
"""PyTorch peer for tools/bench/data/main.ts: the same images through a torchvision-style
detection input pipeline (PIL decode, crop, ColorJitter-style photometric changes, the
GeneralizedRCNNTransform resize, horizontal flip, then Lumen's later augmentations when a row
asks for them: rotation, grey, channel shuffle, invert, blur, noise, JPEG) in a DataLoader
with worker processes.
Reads the rows the TypeScript side wrote (--rows=JSON), prints one JSON object.

    /usr/bin/python3 tools/bench/data/data_torch.py --rows=FILE [--examples=120] [--warmup=1] [--runs=3] [--workers=2]
"""
import json
import math
import os
import random
import statistics
import sys

import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'kit'))
import peer  # noqa: E402


PERMUTATIONS = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]


def rotate_boxes(boxes, degrees, width, height):
    """Each box as the box of its corners turned about the centre as TF.rotate turns the image
    (anticlockwise on screen for a positive angle), clipped; empty ones dropped."""
    t = math.radians(-degrees)
    c, s = math.cos(t), math.sin(t)
    xs = boxes[:, [0, 2, 0, 2]] - width / 2
    ys = boxes[:, [1, 1, 3, 3]] - height / 2
    rx = c * xs - s * ys + width / 2
    ry = s * xs + c * ys + height / 2
    out = torch.stack([rx.min(1).values.clamp(0, width), ry.min(1).values.clamp(0, height),
                       rx.max(1).values.clamp(0, width), ry.max(1).values.clamp(0, height)], 1)
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def later_augmentations(x, boxes, aug, rng):
    """Lumen's augmentations after the flip, in its order, on [0, 1] floats (CHW)."""
    def drawn(key):
        return key in aug and rng.random() < aug[key]['prob']
    if drawn('rotate'):
        angle = rng.uniform(-aug['rotate']['degrees'], aug['rotate']['degrees'])
        fill = x.mean(dim=(1, 2)).tolist()
        x = TF.rotate(x, angle, interpolation=TF.InterpolationMode.BILINEAR, fill=fill)
        boxes = rotate_boxes(boxes, angle, x.shape[2], x.shape[1])
    if drawn('grayscale'):
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    if drawn('channelShuffle'):
        x = x[rng.choice(PERMUTATIONS)]
    if drawn('invert'):
        x = 1 - x
    if drawn('blur'):
        sigma = rng.uniform(*aug['blur']['sigma'])
        k = 2 * math.ceil(3 * sigma) + 1
        x = TF.gaussian_blur(x, [k, k], [sigma, sigma])
    if drawn('noise'):
        sigma = rng.uniform(*aug['noise']['sigma'])
        g = torch.Generator().manual_seed(rng.getrandbits(32))
        x = (x + torch.randn(x.shape, generator=g) * (sigma / 255)).clamp(0, 1)
    if drawn('jpeg'):
        quality = rng.randint(*aug['jpeg']['quality'])
        u8 = (x * 255).round().clamp(0, 255).to(torch.uint8)
        x = torchvision.io.decode_jpeg(torchvision.io.encode_jpeg(u8, quality=quality)).float() / 255
    return x, boxes


class Examples(torch.utils.data.Dataset):
    """`count` examples cycling over the row's images, each augmented from its own seed."""

    def __init__(self, row, count):
        self.row = row
        self.count = count
        self.epoch = 0

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        row = self.row
        aug = row['augment']
        item = row['images'][i % len(row['images'])]
        rng = random.Random(i * 7919 + self.epoch)
        image = TF.pil_to_tensor(Image.open(item['path']).convert('RGB'))
        boxes = torch.tensor(item['boxes'], dtype=torch.float32).reshape(-1, 4)
        _, h, w = image.shape
        if rng.random() < aug['crop']['prob']:
            cw = max(1, round(rng.uniform(aug['crop']['minScale'], 1) * w))
            ch = max(1, round(rng.uniform(aug['crop']['minScale'], 1) * h))
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            image = image[:, top:top + ch, left:left + cw]
            boxes = boxes - torch.tensor([left, top, left, top], dtype=torch.float32)
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, cw)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, ch)
            boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
            h, w = ch, cw
        x = image.float() / 255
        p = aug['photometric']
        if rng.random() < p['prob']:
            x = TF.adjust_brightness(x, rng.uniform(1 - p['brightness'], 1 + p['brightness']))
            x = TF.adjust_contrast(x, rng.uniform(1 - p['contrast'], 1 + p['contrast']))
            x = TF.adjust_saturation(x, rng.uniform(1 - p['saturation'], 1 + p['saturation']))
            x = TF.adjust_hue(x, rng.uniform(-p['hue'], p['hue']))
        scale = min(row['minSize'] / min(h, w), row['maxSize'] / max(h, w))
        x = F.interpolate(x[None], scale_factor=scale, mode='bilinear', recompute_scale_factor=True, align_corners=False)[0]
        ratio = torch.tensor([x.shape[2] / w, x.shape[1] / h, x.shape[2] / w, x.shape[1] / h])
        boxes = boxes * ratio
        if rng.random() < aug['flip']:
            x = x.flip(-1)
            boxes = torch.stack([x.shape[2] - boxes[:, 2], boxes[:, 1], x.shape[2] - boxes[:, 0], boxes[:, 3]], 1)
        return later_augmentations(x, boxes, aug, rng)


def one_thread(_):
    torch.set_num_threads(1)


def main():
    # Worker processes, not torch threads: each worker computes on one thread.
    parser = peer.arguments(__doc__, warmup=1, runs=3, threads=False)
    parser.add_argument('--rows', required=True)
    parser.add_argument('--examples', type=int, default=120)
    parser.add_argument('--workers', type=int, default=2)
    args = peer.parse(parser)
    with open(args.rows) as f:
        rows = json.load(f)
    out = {}
    for row in rows:
        dataset = Examples(row, args.examples)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers, persistent_workers=args.workers > 0,
                                             worker_init_fn=one_thread if args.workers > 0 else None, prefetch_factor=2 if args.workers > 0 else None)

        def run():
            n = 0
            for _ in loader:
                n += 1
            assert n == args.examples

        samples = peer.time_ms(run, args.warmup, args.runs)
        ms = statistics.median(samples) / args.examples
        out[row['id']] = {'msPerExample': ms, 'examplesPerSecond': 1000 / ms, 'samples': samples}
        print(f"[torch] {row['id']}: {1000 / ms:.1f} examples/s", file=sys.stderr)
        del loader
    peer.emit({**peer.versions(), 'workers': args.workers, 'rows': out})


if __name__ == '__main__':
    main()
