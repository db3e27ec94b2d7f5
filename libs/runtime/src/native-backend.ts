import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { util, type BackendValues, type DataId, type DataType } from '@tensorflow/tfjs-core';

/** Freed arrays kept for reuse, at most this many bytes in all. */
const POOL_BYTES = 4 * 2 ** 30;

interface Handed {
  array: Float32Array;
  /** The one tensor that may own the array; null until it is written. */
  owner: DataId | null;
  /** Read out (dataSync, data) or shared by a view or another tensor: never reused. */
  escaped: boolean;
}

/**
 * The native backend: tfjs's cpu backend (tensors are typed arrays in Node's memory, so a
 * model is not bounded by wasm32's 4 GB heap) whose native kernels take their float32
 * outputs from a pool of arrays freed by disposed tensors. A fresh array costs its page
 * faults — on a VM ~3 ms a megabyte, seconds a step for a large detector — and a training
 * step frees and asks for the same sizes again and again. An array is reused only when the
 * tensor it was made for is gone and nothing else can see it: none was read out or shared.
 */
export class NativeBackend extends MathBackendCPU {
  private readonly handed = new WeakMap<object, Handed>();
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;

  constructor() {
    super();
    // tfjs-cpu's first write prints a banner recommending tfjs-node: not this backend's case.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 tensor of `shape` for a kernel to fill (contents unspecified). */
  floatOutput(shape: number[]): { dataId: DataId; shape: number[]; dtype: 'float32' } {
    const size = util.sizeFromShape(shape);
    const pooled = this.free.get(size)?.pop();
    if (pooled != null) this.freeBytes -= pooled.byteLength;
    const array = pooled ?? new Float32Array(size);
    this.handed.set(array.buffer, { array, owner: null, escaped: false });
    return { dataId: this.write(array, shape, 'float32'), shape, dtype: 'float32' };
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = super.write(values, shape, dtype);
    this.claim(values, dataId);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.claim(values, dataId);
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    this.escape(values);
    return values;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    const values = await super.read(dataId);
    this.escape(values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const gone = super.disposeData(dataId, force);
    if (gone && values instanceof Float32Array) {
      const handed = this.handed.get(values.buffer);
      if (handed != null && handed.owner === dataId && !handed.escaped && this.freeBytes + values.byteLength <= POOL_BYTES) {
        handed.owner = null;
        const list = this.free.get(values.length) ?? [];
        list.push(values);
        this.free.set(values.length, list);
        this.freeBytes += values.byteLength;
      }
    }
    return gone;
  }

  override dispose(): void {
    this.free.clear();
    this.freeBytes = 0;
    super.dispose();
  }

  /** The first tensor written with a handed-out array owns it; any other use (a view, a second tensor) shares it. */
  private claim(values: BackendValues, dataId: DataId): void {
    if (!ArrayBuffer.isView(values)) return;
    const handed = this.handed.get(values.buffer);
    if (handed == null) return;
    if (handed.owner == null && values === handed.array) handed.owner = dataId;
    else handed.escaped = true;
  }

  private escape(values: BackendValues): void {
    if (!ArrayBuffer.isView(values)) return;
    const handed = this.handed.get(values.buffer);
    if (handed != null) handed.escaped = true;
  }
}
