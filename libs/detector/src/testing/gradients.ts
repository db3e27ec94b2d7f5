/**
 * tfjs' gradient registry, for specs that train. The `@tensorflow/tfjs-core` Node bundle
 * registers no gradients; `initBackend()` of @lumen/runtime loads them in programs, but a
 * library may not depend on runtime, so its specs load tfjs' own the same way (specs only:
 * src/testing is not part of the build).
 */
export function registerTfjsGradients(): void {
  // eslint-disable-next-line @nx/enforce-module-boundaries -- specs only: the union package registers tfjs' gradients
  require('@tensorflow/tfjs');
}
