#!/usr/bin/python3
"""torchvision peer for tools/bench/pretrained/main.ts: makes the weights and images both sides
run, and times torchvision on them. Prints one JSON object.

    /usr/bin/python3 tools/bench/pretrained/pretrained_torch.py --dir=DIR [--warmup=1] [--runs=3] [--threads=2]

For each model (torchvision's fasterrcnn_resnet50_fpn at full width, 91 COCO classes, on one
800x1088 image: scale 1 at min 800 / max 1333; fasterrcnn_mobilenet_v3_large_320_fpn on one
480x640 image, resized to 320x426):
  - the image, `image-<h>x<w>.png` in DIR (tools/fixtures/detector_parity_fixtures.py's
    generated picture);
  - random weights made as that script makes its fixtures (random biases, batch norm
    calibrated on the image, RPN and classifier outputs spread, background raised to at most
    60 detections): torchvision's init gives every box the same score, leaving NMS and top-k
    nothing to do. Written as `<arch>.pth` (`torch.save(model.state_dict())`; resnet50_fpn's in
    the pre-0.13 key layout of its COCO_V1 file);
  - latency of `model([image])` in eval mode, the image a [3, H, W] float tensor in [0, 1] at
    its original size: the transform (normalise, resize, pad), backbone, RPN, box head and
    postprocess (boxes back to original pixels);
  - for resnet50_fpn, `torch.load` + `load_state_dict` of the file into a model built as the
    builder builds one to load weights (FrozenBatchNorm2d), construction not timed.
"""
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, 'kit'))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, 'fixtures'))
import peer  # noqa: E402
import detector_parity_fixtures as fx  # noqa: E402
from PIL import Image  # noqa: E402

# (height, width) of the one image each model runs on, and the seed of its weights.
MODELS = {
    'fasterrcnn_resnet50_fpn': {'size': (800, 1088), 'seed': 10},
    'fasterrcnn_mobilenet_v3_large_320_fpn': {'size': (480, 640), 'seed': 40},
}
# How often the load is timed (the file was just written: it reads from the page cache).
LOAD_RUNS = 3


def log(message):
    print(f'[torch] {message}', file=sys.stderr, flush=True)


def blas():
    """The BLAS library torch loaded (Debian's alternatives pick it): Linear layers run on it,
    and the reference libblas3 is single-threaded and many times slower than OpenBLAS."""
    with open('/proc/self/maps') as f:
        found = {line.split()[-1] for line in f if 'blas' in line.rsplit('/', 1)[-1]}
    return ', '.join(sorted(found)) or 'unknown'


def raise_background(model, image):
    """fx.raise_background with its detection count taken from one forward: the box head's
    features, proposals and image sizes kept, only the predictor and postprocess rerun per
    trial raise (the raise changes nothing before them). Same count, same search; a dozen
    full-width forwards fewer."""
    heads = model.roi_heads
    kept = {}
    hooks = [
        heads.register_forward_pre_hook(lambda _m, args: kept.update(proposals=args[1], shapes=args[2])),
        heads.box_head.register_forward_hook(lambda _m, _i, out: kept.update(features=out)),
    ]
    with torch.no_grad():
        model([image])
    for h in hooks:
        h.remove()

    def detect(_model, _image):
        with torch.no_grad():
            logits, deltas = heads.box_predictor(kept['features'])
            boxes, _, _ = heads.postprocess_detections(logits, deltas, kept['proposals'], kept['shapes'])
        return boxes[0]

    full = fx.detect
    fx.detect = detect
    try:
        return fx.raise_background(model, [image])
    finally:
        fx.detect = full


def make_weights(out_dir, arch, size, seed):
    """detector_parity_fixtures.make_case's weights at full width, calibrated on one image."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    model = fx.build(arch, fx.FULL).eval()
    Image.fromarray(fx.make_image(*size, seed=seed + 100)).save(os.path.join(out_dir, fx.image_name(size)))
    image = fx.read_image(out_dir, size)
    fx.randomise_biases(model, generator)
    fx.calibrate_norms(model, [image], generator)
    fx.scale_outputs(model, [image], generator)
    background = raise_background(model, image)
    state = model.state_dict()
    if arch == 'fasterrcnn_resnet50_fpn':
        state = fx.legacy_layout(state)
    path = os.path.join(out_dir, f'{arch}.pth')
    torch.save(state, path)
    seconds = time.perf_counter() - start
    log(f'{arch}: weights made in {seconds:.1f} s (background logit raised by {background}), {os.path.getsize(path) / 1e6:.1f} MB')
    return model, image, path, seconds


def time_load(arch, path, warmup, runs):
    """torch.load + load_state_dict of `path` into a fresh model (built outside the timing)."""
    model = fx.build(arch, fx.FULL).eval()

    def load():
        model.load_state_dict(torch.load(path, map_location='cpu'))

    return peer.timed(load, warmup, runs)


def main():
    parser = peer.arguments(__doc__, warmup=1, runs=3)
    parser.add_argument('--dir', required=True, help='where to write the .pth files and images')
    args = peer.parse(parser)
    results = []
    for arch, spec in MODELS.items():
        model, image, path, seconds = make_weights(args.dir, arch, spec['size'], spec['seed'])
        detections = []

        def run():
            with torch.no_grad():
                out = model([image])
            detections.append(len(out[0]['boxes']))

        timing = peer.timed(run, args.warmup, args.runs)
        log(f'{arch}: {timing["ms"]:.0f} ms per image, {detections[-1]} detections')
        result = {
            'arch': arch,
            'file': os.path.basename(path),
            'bytes': os.path.getsize(path),
            'image': fx.image_name(spec['size']),
            'height': spec['size'][0],
            'width': spec['size'][1],
            'weightsSeconds': seconds,
            **timing,
            'detections': detections[-1],
        }
        if arch == 'fasterrcnn_resnet50_fpn':
            load = time_load(arch, path, 0, LOAD_RUNS)
            log(f'{arch}: torch.load + load_state_dict {load["ms"]:.0f} ms')
            result['load'] = load
        results.append(result)
        del model
    peer.emit({**peer.versions(), 'blas': blas(), 'models': results})


if __name__ == '__main__':
    main()
