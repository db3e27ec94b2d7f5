#!/usr/bin/python3
"""Convert a PyTorch state dict (.pth / .pt) into a .safetensors file for @lumen/backbone.

    npx nx run tools:convert-weights -- resnet50-0676ba61.pth resnet50.safetensors
    /usr/bin/python3 tools/weights/pth_to_safetensors.py IN.pth OUT.safetensors
        [--dtype keep|f32|f16|bf16] [--strip-prefix module.] [--key state_dict]

The names and layouts are kept as torch has them (`layer1.0.conv1.weight`, OIHW):
`importWeights` in @lumen/backbone renames and transposes on import, and lists the tensors a
backbone does not use (`fc.*`, `num_batches_tracked`). Checkpoints that wrap the state dict
(`{"state_dict": …}`, `{"model": …}`, a pickled nn.Module) are unwrapped; non-tensor entries
are skipped with a note. `--dtype` converts floating tensors (integer ones are kept).

Needs only torch (Debian: python3-torch); the safetensors format is written here directly
(8-byte little-endian header length, JSON header, tensor bytes), so the `safetensors`
package is not required. `save_safetensors` is also used by tools/fixtures/backbone_fixtures.py.
"""
import argparse
import json
import os
import struct
import sys

import torch

DTYPES = {
    torch.float64: 'F64',
    torch.float32: 'F32',
    torch.float16: 'F16',
    torch.bfloat16: 'BF16',
    torch.int64: 'I64',
    torch.int32: 'I32',
    torch.int16: 'I16',
    torch.int8: 'I8',
    torch.uint8: 'U8',
    torch.bool: 'BOOL',
}

CONVERT = {'f32': torch.float32, 'f16': torch.float16, 'bf16': torch.bfloat16}


def tensor_bytes(t):
    """Row-major little-endian bytes of a CPU tensor (bfloat16 via its int16 view: numpy has no bf16)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    data = t.numpy()
    if data.dtype.byteorder == '>' or (data.dtype.byteorder == '=' and sys.byteorder == 'big'):
        data = data.byteswap()
    return data.tobytes()


def save_safetensors(tensors, path, metadata=None):
    """Write {name: tensor} as safetensors: entries by decreasing item size then name (aligned)."""
    items = []
    for name, t in tensors.items():
        if t.dtype not in DTYPES:
            raise ValueError(f'{name}: dtype {t.dtype} has no safetensors equivalent')
        items.append((name, t))
    items.sort(key=lambda kv: (-kv[1].element_size(), kv[0]))
    header = {}
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name, t in items:
        data = tensor_bytes(t)
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * (-len(encoded) % 8)
    tmp = f'{path}.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)
    return 8 + len(encoded) + offset


def load_state_dict(path, key=None):
    """The state dict in a torch checkpoint, unwrapped from the usual containers."""
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location='cpu')
    except Exception as e:  # weights_only refuses pickled modules: say what to do
        raise SystemExit(f'{path}: cannot load as plain weights ({e}). If you trust the file and it holds a '
                         'whole model, re-save its model.state_dict() first.')
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise SystemExit(f'{path}: no key {key!r} at the top level')
        obj = obj[key]
    elif isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for candidate in ('state_dict', 'model', 'model_state', 'module'):
            if isinstance(obj.get(candidate), dict):
                print(f'using the {candidate!r} entry of the checkpoint', file=sys.stderr)
                obj = obj[candidate]
                break
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise SystemExit(f'{path}: holds a {type(obj).__name__}, not a state dict')
    return obj


def convert(state, dtype='keep', strip_prefix=None):
    tensors = {}
    skipped = []
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            skipped.append(name)
            continue
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix):]
        if dtype != 'keep' and value.is_floating_point():
            value = value.to(CONVERT[dtype])
        tensors[name] = value
    return tensors, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='a .pth/.pt file holding a state dict')
    parser.add_argument('output', help='the .safetensors file to write')
    parser.add_argument('--dtype', choices=['keep', *CONVERT], default='keep', help='floating tensors as (default: keep)')
    parser.add_argument('--strip-prefix', default=None, help="remove this prefix from names (e.g. 'module.')")
    parser.add_argument('--key', default=None, help='take the state dict from this top-level key')
    args = parser.parse_args()

    state = load_state_dict(args.input, args.key)
    tensors, skipped = convert(state, args.dtype, args.strip_prefix)
    if not tensors:
        raise SystemExit(f'{args.input}: no tensors found')
    if skipped:
        print(f'skipped {len(skipped)} non-tensor entries: {", ".join(skipped[:10])}', file=sys.stderr)
    size = save_safetensors(tensors, args.output, {'format': 'pt', 'source': os.path.basename(args.input)})
    kinds = sorted({DTYPES[t.dtype] for t in tensors.values()})
    print(f'wrote {args.output}: {len(tensors)} tensors ({", ".join(kinds)}), {size / 2**20:.1f} MiB')


if __name__ == '__main__':
    main()
