import { kernelsFor, setKernelChoice } from './select-kernels';

describe('row kernel selection', () => {
  it('picks wasm for channel counts divisible by 4 and JavaScript otherwise, unless told', () => {
    expect(kernelsFor(8, 64).kernels.name).toBe('wasm');
    expect(kernelsFor(3, 64).kernels.name).toBe('js');
    setKernelChoice('js');
    expect(kernelsFor(8, 64).kernels.name).toBe('js');
    setKernelChoice('wasm');
    expect(() => kernelsFor(3, 64)).toThrow(/wasm kernels unavailable for 3 channels/);
    setKernelChoice('auto');
  });
});
