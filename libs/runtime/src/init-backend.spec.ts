import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native } from '@lumen/runtime-native';

// initBackend runs once per process: every case gets a fresh module registry (and tfjs).
// Reloading tfjs re-registers its kernels in the process-wide registry, which tfjs warns
// about at length: those warnings are muted here.
beforeEach(() => jest.spyOn(console, 'warn').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());

async function freshInit(env: Record<string, string | undefined>, options: object = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    let result: unknown;
    await jest.isolateModulesAsync(async () => {
      const runtime = await import('./init-backend');
      const core = await import('@tensorflow/tfjs-core');
      const lines: string[] = [];
      const first = await runtime.initBackend({ log: (m: string) => lines.push(m), ...options });
      const second = await runtime.initBackend({ log: (m: string) => lines.push(m) });
      result = { first, same: first === second, lines, active: core.getBackend() };
    });
    return result as { first: { name: string; threads: number; skipped: string[] }; same: boolean; lines: string[]; active: string };
  } finally {
    process.env = saved;
  }
}

describe('initBackend', () => {
  it('takes the first backend that works — here wasm, as tfjs-node cannot install — and says why it skipped', async () => {
    const r = await freshInit({ LUMEN_BACKEND: undefined, LUMEN_WASM_THREADS: '1' });
    expect(r.active).toBe(r.first.name);
    expect(['tensorflow', 'wasm']).toContain(r.first.name);
    if (r.first.name === 'wasm') expect(r.first.skipped.join('\n')).toMatch(/tfjs-node/);
  });

  it('honours LUMEN_BACKEND, logs its choice once and returns it again on later calls', async () => {
    const r = await freshInit({ LUMEN_BACKEND: 'cpu' });
    expect(r.first.name).toBe('cpu');
    expect(r.active).toBe('cpu');
    expect(r.same).toBe(true);
    expect(r.lines).toEqual(['[lumen] tfjs backend: cpu — @tensorflow/tfjs-backend-cpu']);
  });

  it('lets LUMEN_BACKEND win over the backend a program prefers', async () => {
    const r = await freshInit({ LUMEN_BACKEND: 'cpu' }, { backend: 'wasm' });
    expect(r.first.name).toBe('cpu');
  });

  it('rejects an unknown LUMEN_BACKEND naming the variable and the allowed values', async () => {
    await expect(freshInit({ LUMEN_BACKEND: 'webgpu' })).rejects.toThrow(
      "LUMEN_BACKEND='webgpu' is not a backend; expected one of: tensorflow, wasm, native, cpu",
    );
  });

  it('LUMEN_BACKEND=native: cpu tensors with @lumen/runtime-native kernels where the addon is built, else an error saying why', async () => {
    if (native == null) {
      await expect(freshInit({ LUMEN_BACKEND: 'native' })).rejects.toThrow(/LUMEN_BACKEND=native could be initialised:[\s\S]*@lumen\/runtime-native/);
      return;
    }
    const r = await freshInit({ LUMEN_BACKEND: 'native', LUMEN_WASM_THREADS: '2' });
    expect(r.first).toMatchObject({ name: 'native', threads: 2 });
    expect(r.active).toBe('native');
    expect(r.lines).toEqual([expect.stringMatching(/^\[lumen\] tfjs backend: native — @tensorflow\/tfjs-backend-cpu tensors \+ @lumen\/runtime-native \((avx512|avx2-fma|generic), 2 threads\)/)]);
  });

  it('wasm beside the native kernels: their threads as asked, wasm itself on one', async () => {
    const r = await freshInit({ LUMEN_BACKEND: 'wasm', LUMEN_WASM_THREADS: '2' });
    expect(r.first.name).toBe('wasm');
    if (native == null) return;
    expect(r.first.threads).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^\[lumen\] tfjs backend: wasm — @tensorflow\/tfjs-backend-wasm \(SIMD, single thread\) \+ @lumen\/runtime-native \((avx512|avx2-fma|generic), 2 threads\)/)]);
  });

  it('rejects a bad thread count', async () => {
    await expect(freshInit({ LUMEN_BACKEND: 'wasm', LUMEN_WASM_THREADS: '0' })).rejects.toThrow(/from 1 to 8/);
  });

  it('explains a forced backend that cannot load', async () => {
    let tensorflowInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      tensorflowInstalled = false;
    }
    if (tensorflowInstalled) return; // with libtensorflow present the forced choice simply works
    await expect(freshInit({ LUMEN_BACKEND: 'tensorflow' })).rejects.toThrow(
      /LUMEN_BACKEND=tensorflow could be initialised:[\s\S]*tfjs-node-gpu[\s\S]*tfjs-node/,
    );
  });

  it('registers the training gradients on every backend', async () => {
    await jest.isolateModulesAsync(async () => {
      process.env.LUMEN_BACKEND = 'cpu';
      try {
        const runtime = await import('./init-backend');
        const core = await import('@tensorflow/tfjs-core');
        await runtime.initBackend({ log: () => undefined });
        for (const k of ['Conv2D', 'GatherNd', 'CropAndResize', 'Less', 'FusedBatchNorm', 'MaxPool']) {
          expect({ k, has: core.getGradient(k) != null }).toEqual({ k, has: true });
        }
        // And one that tfjs lacks runs on the chosen backend: GatherNd reads x[0] twice and x[2] once.
        expect(core.getBackend()).toBe('cpu');
        const dx = core.tidy(() => core.grad((x) => core.sum(core.gatherND(x, [[0], [0], [2]])))(core.tensor1d([1, 2, 3])));
        expect(Array.from(await dx.data())).toEqual([2, 0, 1]);
        dx.dispose();
      } finally {
        delete process.env.LUMEN_BACKEND;
      }
    });
  });
});

describe('initBackend in a program', () => {
  // Outside jest's sandbox: the wasm loader's handlers go on the real process object.
  it('leaves no process error handler of the wasm loader behind (they rethrow and dump its minified source)', () => {
    const root = join(__dirname, '..', '..', '..');
    const program = `
      const { initBackend } = require(${JSON.stringify(join(__dirname, 'index.ts'))});
      initBackend({ backend: 'wasm', threads: 1, log: () => undefined }).then(() => {
        console.log(process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection'));
        setTimeout(() => { throw new Error('thrown by the program'); });
      });`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', program], {
      cwd: root,
      // FORCE_COLOR (nx sets it) would colour the numbers console.log prints.
      env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.base.json'), LUMEN_BACKEND: '', FORCE_COLOR: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stdout.trim()).toBe('0 0');
    // Node's own report of an uncaught error: exit 1 and a short trace, not exit 7 and 57 KB.
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('thrown by the program');
    expect(run.stderr.length).toBeLessThan(2000);
  });
});
