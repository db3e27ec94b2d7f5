import { UserError } from './index';

describe('UserError', () => {
  it('is an Error whose subclasses are caught as UserError', () => {
    class ConfigLikeError extends UserError {
      override name = 'ConfigLikeError';
    }
    const error = new ConfigLikeError('model.backbone.name: unknown backbone');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(UserError);
    expect(error.name).toBe('ConfigLikeError');
    expect(String(error)).toBe('ConfigLikeError: model.backbone.name: unknown backbone');
  });
});
