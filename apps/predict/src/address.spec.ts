import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { UserError } from '@lumen/core';
import { checkAddress } from './address';

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

describe('checkAddress', () => {
  it('a port in use: a UserError naming host and port', async () => {
    const { server, port } = await listening();
    try {
      await expect(checkAddress('127.0.0.1', port)).rejects.toStrictEqual(new UserError(`port ${port} on 127.0.0.1 is in use by another program: pick another with --port`));
    } finally {
      server.close();
    }
  });

  it("an address the machine lacks (192.0.2.1 is for documentation only) and a host name that does not resolve", async () => {
    await expect(checkAddress('192.0.2.1', 5000)).rejects.toStrictEqual(
      new UserError('cannot listen on 192.0.2.1:5000: 192.0.2.1 is not an address of this machine; use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses'),
    );
    await expect(checkAddress('nowhere.invalid', 5000)).rejects.toStrictEqual(
      new UserError("cannot listen on nowhere.invalid:5000: 'nowhere.invalid' is not a known host name; use --host with an address such as 127.0.0.1 or 0.0.0.0"),
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
