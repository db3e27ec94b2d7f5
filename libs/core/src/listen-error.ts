import { UserError } from './user-error';

/** host:port as written in a URL ([::1]:5000 for IPv6). */
const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * A server's failed listen as a UserError naming host:port and what to do, for the causes a
 * user fixes with --host or --port (the servers of `lumen server` and `lumen board`); any
 * other error is returned as it is.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const where = hostPort(host, port);
  switch ((error as { code?: unknown } | null)?.code) {
    case 'EADDRINUSE':
      return new UserError(`port ${port} on ${host} is in use by another program: pick another with --port`);
    case 'EACCES':
      return new UserError(
        port < 1024
          ? `port ${port} on ${host} needs administrator rights (ports below 1024 do): pick one from 1024 up with --port`
          : `not allowed to listen on ${where} (EACCES): pick another --port, or ask the administrator`,
      );
    case 'EADDRNOTAVAIL':
      return new UserError(`cannot listen on ${where}: ${host} is not an address of this machine; use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(`cannot listen on ${where}: '${host}' is not a known host name; use --host with an address such as 127.0.0.1 or 0.0.0.0`);
    default:
      return error;
  }
}
