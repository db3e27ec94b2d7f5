import { describeBackbone } from './describe';
import { loadConfig } from './load';

describe('describeBackbone', () => {
  it('names the backbone, a pyramid on it, and a width other than 1', () => {
    expect(describeBackbone(loadConfig('digits').config)).toBe('resnet18+fpn x0.375');
    expect(describeBackbone(loadConfig('digits-c4').config)).toBe('resnet18 x0.375');
    expect(describeBackbone(loadConfig('voc').config)).toBe('resnet50');
  });
});
