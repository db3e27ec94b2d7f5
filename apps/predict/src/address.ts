// Whether `lumen server` can listen on --host/--port, said so that the user knows what to change.
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { UsageError } from './objects';

/** host:port as written in a URL ([::1]:5000 for IPv6). */
const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * A failed listen as a UsageError naming host:port and what to do, for the causes a user
 * fixes with --host or --port; any other error is returned as it is.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const where = hostPort(host, port);
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new UsageError(`port ${port} on ${host} is in use by another program: pick another with --port`);
    case 'EACCES':
      return new UsageError(
        port < 1024
          ? `port ${port} on ${host} needs administrator rights (ports below 1024 do): pick one from 1024 up with --port`
          : `not allowed to listen on ${where} (EACCES): pick another --port, or ask the administrator`,
      );
    case 'EADDRNOTAVAIL':
      return new UsageError(`cannot listen on ${where}: ${host} is not an address of this machine; use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UsageError(`cannot listen on ${where}: '${host}' is not a known host name; use --host with an address such as 127.0.0.1 or 0.0.0.0`);
    default:
      return error;
  }
}

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
