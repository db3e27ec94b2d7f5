import { BACKBONE_NAMES } from '@lumen/backbone';
import { BACKBONES, loadConfig } from '@lumen/config';
import { join } from 'node:path';
import { resolveComponents } from './components';

const DIGITS = join(__dirname, '../../../configs/digits.yaml');

describe('component names', () => {
  it("are the config schema's list and the backbone registry's, the same", () => {
    expect([...BACKBONES].sort()).toEqual([...BACKBONE_NAMES].sort());
  });

  it('every backbone the schema allows resolves', () => {
    for (const name of BACKBONES) {
      const { config } = loadConfig(DIGITS, { overrides: [`model.backbone.name=${name}`, `model.rcnn.head=mlp`] });
      expect(resolveComponents(config).backbone.name).toBe(name);
    }
  });

  it('an unknown backbone is a config error naming the key, from the schema', () => {
    expect(() => loadConfig(DIGITS, { overrides: ['model.backbone.name=resnet7'] })).toThrow(/model\.backbone\.name: "resnet7" is not allowed: expected one of "resnet18"/);
  });
});
