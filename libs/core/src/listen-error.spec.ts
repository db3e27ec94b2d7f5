import { listenError, UserError } from './index';

describe('listenError', () => {
  const failure = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

  it('a port in use, an address the machine lacks, a host name that does not resolve', () => {
    expect(listenError(failure('EADDRINUSE'), '127.0.0.1', 6006)).toStrictEqual(new UserError('port 6006 on 127.0.0.1 is in use by another program: pick another with --port'));
    expect(listenError(failure('EADDRNOTAVAIL'), '192.0.2.1', 5000)).toStrictEqual(
      new UserError('cannot listen on 192.0.2.1:5000: 192.0.2.1 is not an address of this machine; use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses'),
    );
    expect(listenError(failure('ENOTFOUND'), 'nowhere.invalid', 5000)).toStrictEqual(
      new UserError("cannot listen on nowhere.invalid:5000: 'nowhere.invalid' is not a known host name; use --host with an address such as 127.0.0.1 or 0.0.0.0"),
    );
  });

  it('privileged ports and other refusals (tests may run as root, so the errors are made here)', () => {
    expect(listenError(failure('EACCES'), '0.0.0.0', 80)).toStrictEqual(
      new UserError('port 80 on 0.0.0.0 needs administrator rights (ports below 1024 do): pick one from 1024 up with --port'),
    );
    expect(listenError(failure('EACCES'), '::1', 8080)).toStrictEqual(new UserError('not allowed to listen on [::1]:8080 (EACCES): pick another --port, or ask the administrator'));
  });

  it('any other error is returned as it is', () => {
    const other = failure('EMFILE');
    expect(listenError(other, '127.0.0.1', 5000)).toBe(other);
    expect(listenError(null, '127.0.0.1', 5000)).toBeNull();
  });
});
