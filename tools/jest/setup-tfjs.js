// Tests run on the plain cpu backend unless they pick one: libraries only import
// @tensorflow/tfjs-core, so a backend has to be registered for their specs. The
// runtime's own specs switch to wasm explicitly.
require('@tensorflow/tfjs-backend-cpu');
