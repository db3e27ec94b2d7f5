/**
 * Lets @tensorflow/tfjs-backend-wasm@4.22 run its threaded SIMD build (emscripten pthreads)
 * in Node, from outside tfjs. What stops it out of the box (dist/tf-backend-wasm.node.js):
 *  1. the WASM_HAS_MULTITHREAD_SUPPORT flag answers false under Node;
 *  2. pthread workers are created from a `blob:` URL, which worker_threads.Worker rejects;
 *  3. the main script reaches each worker as a Blob (readable only asynchronously) built
 *     from the factory's toString(), which refers to names that exist only inside the
 *     rollup bundle (require$$N, commonjsGlobal, tslib helpers, _scriptDir);
 *  4. backend.cc caps threads at logical cores / 2 (1 on a 2-core machine);
 *  5. started pthreads are ref()'d and block forever, so Node would never exit.
 * `withThreadedWasm` patches all five for the duration of the wasm backend's init: a
 * Worker subclass starts an eval worker (a prelude that fills in 3, then tfjs's own
 * pthread worker script) for blob: URLs and never refs it; os.cpus reports enough cores.
 */
import { readFileSync } from 'node:fs';
// Plain requires, not namespace imports: the patches must land on the real module objects.
import os = require('node:os');
import workerThreads = require('node:worker_threads');

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const MAIN_MARKER = 'lumen-tfjs-wasm-threaded-main.js';

/** Runs in each pthread worker before tfjs's worker script. */
const WORKER_PRELUDE = `
const lumenThreads = require('worker_threads').workerData.lumenThreads;
for (const [name, mod] of lumenThreads.requireMap) globalThis[name] = require(mod);
globalThis.commonjsGlobal = globalThis;
globalThis._scriptDir = lumenThreads.scriptDir;
globalThis.__values = function (o) {
  const it = typeof Symbol === 'function' && o[Symbol.iterator];
  if (it) return it.call(o);
  let i = 0;
  return { next() { if (o && i >= o.length) o = undefined; return { value: o && o[i++], done: !o }; } };
};
globalThis.__read = function (o, n) {
  const it = typeof Symbol === 'function' && o[Symbol.iterator];
  if (!it) return o;
  const iter = it.call(o); const out = []; let r;
  while ((n === undefined || n-- > 0) && !(r = iter.next()).done) out.push(r.value);
  return out;
};
globalThis.__spreadArray = function (to, from) { return to.concat(Array.prototype.slice.call(from)); };
let lumenMainCode = null;
{
  // The 'load' message carries the main script as a Blob: read it before that message
  // (and everything queued after it) reaches emscripten's handler, in order.
  const port = require('worker_threads').parentPort;
  const on = port.on;
  port.on = function (event, handler) {
    if (event !== 'message') return on.call(this, event, handler);
    const queue = []; let busy = false;
    const isBlobLoad = (d) => d && d.cmd === 'load' && d.urlOrBlob && typeof d.urlOrBlob === 'object';
    const drain = async () => {
      busy = true;
      try {
        while (queue.length) {
          const d = queue.shift();
          if (isBlobLoad(d)) { lumenMainCode = await d.urlOrBlob.text(); d.urlOrBlob = '${MAIN_MARKER}'; }
          handler(d);
        }
      } catch (e) { process.nextTick(() => { throw e; }); }
      busy = false;
    };
    return on.call(this, 'message', (d) => {
      if (busy || isBlobLoad(d)) { queue.push(d); if (!busy) drain(); } else handler(d);
    });
  };
}
`;

const WORKER_POSTLUDE = `
{
  const importScripts = globalThis.importScripts;
  globalThis.importScripts = (f) => f === '${MAIN_MARKER}'
    ? (0, eval)(lumenMainCode + '\\n//# sourceURL=${MAIN_MARKER}')
    : importScripts(f);
}
`;

function workerSource(): string {
  const { wasmWorkerContents } = require(`${WASM_PACKAGE}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  // tfjs escapes newlines the same way before it makes its Blob.
  return WORKER_PRELUDE + wasmWorkerContents.replace(/\n/g, '\\n') + WORKER_POSTLUDE;
}

/** The bundle's `var require$$N = require('mod')` lines: the worker needs the same names. */
function bundleRequires(): [string, string][] {
  const head = readFileSync(require.resolve(WASM_PACKAGE), 'utf8').slice(0, 8000);
  const found = [...head.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm)].map((m) => [m[1], m[2]] as [string, string]);
  if (found.length === 0) {
    throw new Error(`@lumen/runtime: cannot find the module imports of ${WASM_PACKAGE}'s node bundle (version changed?)`);
  }
  return found;
}

/**
 * Runs `init` (which must initialise the wasm backend) with the patches above in place, and
 * removes them afterwards. `threads` is what `setThreadsCount` was given.
 */
export async function withThreadedWasm<T>(
  env: { set(flag: string, value: boolean): void },
  threads: number,
  init: () => Promise<T>,
): Promise<T> {
  env.set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const realCpus = os.cpus;
  const osModule = os as { cpus: typeof os.cpus };
  osModule.cpus = () => {
    const real = realCpus();
    const out = real.slice();
    while (out.length < 2 * threads) out.push(real[out.length % real.length]);
    return out;
  };
  const source = workerSource();
  const workerData = { lumenThreads: { requireMap: bundleRequires(), scriptDir: require.resolve(WASM_PACKAGE) } };
  const Original = workerThreads.Worker;
  class PthreadWorker extends Original {
    private readonly pthread: boolean;
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      const blob = typeof filename === 'string' && filename.startsWith('blob:');
      super(blob ? source : filename, blob ? { ...options, eval: true, workerData } : options);
      this.pthread = blob;
    }
    override ref(): void {
      if (!this.pthread) super.ref();
    }
  }
  const mutable = workerThreads as { Worker: typeof workerThreads.Worker };
  mutable.Worker = PthreadWorker;
  try {
    return await init();
  } finally {
    if (mutable.Worker === PthreadWorker) mutable.Worker = Original;
    osModule.cpus = realCpus;
  }
}
