// vega-lite names its types under package.json "exports" only, which the workspace's
// moduleResolution ('node') does not read: point TypeScript at them.
declare module 'vega-lite' {
  export * from 'vega-lite/build/index';
}
