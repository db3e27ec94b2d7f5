import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { checkAddress, listenError } from './address';
import { UsageError } from './objects';

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

describe('checkAddress', () => {
  it('a port in use: a UsageError naming host and port', async () => {
    const { server, port } = await listening();
    try {
      await expect(checkAddress('127.0.0.1', port)).rejects.toStrictEqual(new UsageError(`port ${port} on 127.0.0.1 is in use by another program: pick another with --port`));
    } finally {
      server.close();
    }
  });

  it("an address the machine lacks (192.0.2.1 is for documentation only) and a host name that does not resolve", async () => {
    await expect(checkAddress('192.0.2.1', 5000)).rejects.toStrictEqual(
      new UsageError('cannot listen on 192.0.2.1:5000: 192.0.2.1 is not an address of this machine; use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses'),
    );
    await expect(checkAddress('nowhere.invalid', 5000)).rejects.toStrictEqual(
      new UsageError("cannot listen on nowhere.invalid:5000: 'nowhere.invalid' is not a known host name; use --host with an address such as 127.0.0.1 or 0.0.0.0"),
    );
  });

  it('a free address: resolves, and lets go of it', async () => {
    const { server, port } = await listening();
    await new Promise((closed) => server.close(closed));
    await checkAddress('127.0.0.1', port);
    const again = createServer().listen(port, '127.0.0.1');
    await once(again, 'listening');
    again.close();
  });
});

describe('listenError', () => {
  const failure = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

  it('privileged ports and other refusals (tests may run as root, so the errors are made here)', () => {
    expect(listenError(failure('EACCES'), '0.0.0.0', 80)).toStrictEqual(
      new UsageError('port 80 on 0.0.0.0 needs administrator rights (ports below 1024 do): pick one from 1024 up with --port'),
    );
    expect(listenError(failure('EACCES'), '::1', 8080)).toStrictEqual(new UsageError('not allowed to listen on [::1]:8080 (EACCES): pick another --port, or ask the administrator'));
  });

  it('any other error is returned as it is', () => {
    const other = failure('EMFILE');
    expect(listenError(other, '127.0.0.1', 5000)).toBe(other);
  });
});
