// Whether `lumen server` can listen on --host/--port, said so that the user knows what to change.
import { listenError } from '@lumen/core';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';

/**
 * Listens on host:port once and lets go, so that a taken or foreign address is reported
 * (as listenError) before the model spends seconds loading.
 */
export async function checkAddress(host: string, port: number): Promise<void> {
  const probe = createNetServer();
  try {
    probe.listen({ host, port });
    await once(probe, 'listening');
  } catch (error) {
    throw listenError(error, host, port);
  } finally {
    if (probe.listening) await new Promise((closed) => probe.close(closed));
  }
}
