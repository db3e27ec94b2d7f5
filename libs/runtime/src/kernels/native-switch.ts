let enabled = true;

/** Whether kernels may call @lumen/runtime-native now (specs turn it off to test the fallbacks). */
export function nativeEnabled(): boolean {
  return enabled;
}

/** Runs `f` with the native kernels stepped aside (their wasm/JS fallbacks answer): for specs. */
export async function withoutNativeKernels<T>(f: () => Promise<T> | T): Promise<T> {
  enabled = false;
  try {
    return await f();
  } finally {
    enabled = true;
  }
}
