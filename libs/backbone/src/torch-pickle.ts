import { fail } from '@lumen/core';
import { PickleDict, unpickle, type PickleCallable } from './pickle';
import { STORAGE_DTYPES, StorageRef, TensorRef, type StorageDtype } from './torch-tensor';
import { describe } from './validate';

// The Python names a torch.save'd state dict or checkpoint uses, and what each becomes:
// collections.OrderedDict -> a PickleDict; torch._utils._rebuild_tensor_v2 (and
// _rebuild_parameter, for nn.Parameter values) -> a TensorRef; torch.<Type>Storage -> the
// storage's dtype, inside persistent ids ('storage', type, key, location, numel) that become
// StorageRefs. Any other name is refused: readPth reads weights, not Python objects.

const FN = 'readPth';

/** A torch.<Type>Storage class, as a persistent id names it. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: StorageDtype,
  ) {}
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isCounts(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isCount);
}

function orderedDict(args: unknown[]): PickleDict {
  // torch pickles an OrderedDict as OrderedDict() then SETITEMS.
  if (args.length !== 0) fail(FN, `collections.OrderedDict is called with ${args.length} argument(s); torch.save passes none.`);
  return new PickleDict();
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, shape, strides] = args;
  if (args.length < 6 || args.length > 7) fail(FN, `torch._utils._rebuild_tensor_v2 is called with ${args.length} arguments; torch.save passes 6 or 7.`);
  if (!(storage instanceof StorageRef)) fail(FN, `torch._utils._rebuild_tensor_v2's storage is ${describe(storage)}, not a persistent storage id.`);
  if (!isCount(offset) || !isCounts(shape) || !isCounts(strides) || strides.length !== shape.length) {
    fail(FN, `a tensor on storage '${storage.key}' has storage offset ${describe(offset)}, size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)}: not a non-negative offset and two tuples of one length of non-negative integers.`);
  }
  return new TensorRef(storage, offset, shape, strides);
}

/** _rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter is its data. */
function rebuildParameter(args: unknown[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) fail(FN, `torch._utils._rebuild_parameter's data is ${describe(args[0])}, not a tensor.`);
  return args[0];
}

const CALLABLES: Readonly<Record<string, PickleCallable>> = {
  'collections.OrderedDict': orderedDict,
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_parameter': rebuildParameter,
};

function findClass(source: string, module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  if (qualified in CALLABLES) return CALLABLES[qualified];
  if (module === 'torch' && name in STORAGE_DTYPES) return new StorageType(name, STORAGE_DTYPES[name as keyof typeof STORAGE_DTYPES]);
  if (module === 'torch' && name.endsWith('Storage')) {
    fail(FN, `${source} has a tensor on a torch.${name}; readPth reads ${Object.keys(STORAGE_DTYPES).join(', ')}.`);
  }
  return fail(
    FN,
    `${source} refers to the Python name '${qualified}'. readPth reads tensors in dicts, lists and tuples, and refuses anything else (it runs no code); ` +
      `if the file holds a whole model or other objects, save its tensors alone: torch.save(model.state_dict(), 'weights.pth').`,
  );
}

/** The storages of one archive, one StorageRef per key (two tensors may share a storage). */
function storageLoader(source: string): (pid: unknown) => StorageRef {
  const storages = new Map<string, StorageRef>();
  return (pid) => {
    const [kind, type, key, , numel] = Array.isArray(pid) ? pid : [];
    if (!Array.isArray(pid) || pid.length !== 5 || kind !== 'storage' || !(type instanceof StorageType) || typeof key !== 'string' || !isCount(numel)) {
      return fail(FN, `${source} has a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel): ${describe(pid)}.`);
    }
    const known = storages.get(key);
    if (known !== undefined && (known.dtype !== type.dtype || known.numel !== numel)) {
      fail(FN, `${source} names storage '${key}' twice, as ${known.numel} ${known.dtype} and as ${numel} ${type.dtype} elements.`);
    }
    const storage = known ?? new StorageRef(key, type.dtype, numel);
    storages.set(key, storage);
    return storage;
  };
}

/** The object torch.save pickled into `bytes` (`source` names it in errors), its tensors as TensorRefs. */
export function readTorchPickle(bytes: Uint8Array, source: string): unknown {
  return unpickle(bytes, {
    fn: FN,
    source,
    findClass: (module, name) => findClass(source, module, name),
    persistentLoad: storageLoader(source),
  });
}
