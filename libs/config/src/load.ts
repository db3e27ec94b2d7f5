import { UserError, workspaceRoot } from '@lumen/core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { core } from 'zod';
import { DEFAULTS } from './defaults';
import { configSchema, type Config } from './schema';

/** A config problem a user can fix: message names the file and/or the key. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `over` laid onto `base`: objects merge key by key, anything else (arrays too) replaces. */
export function mergeConfig(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isTree(value) && isTree(base[key]) ? mergeConfig(base[key] as Tree, value) : value;
  }
  return out;
}

/** The named configs Lumen ships (the repo's configs/ folder). */
const SHIPPED_CONFIG_DIR = resolve(__dirname, '..', '..', '..', 'configs');

/**
 * Where named configs live: the workspace's `configs/` (found from any subfolder; see
 * `workspaceRoot`), else the ones Lumen ships.
 */
export function defaultConfigDir(): string {
  const own = join(workspaceRoot(), 'configs');
  return existsSync(own) ? own : SHIPPED_CONFIG_DIR;
}

/** Names of the configs in `dir` (files `*.yaml`). */
export function listConfigs(dir = defaultConfigDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => basename(f, extname(f)))
    .sort();
}

function configPath(nameOrPath: string, dir: string, from?: string): string {
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml');
  if (looksLikePath) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(from ? dirname(from) : '.', nameOrPath);
    if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist${from ? ` (named by 'base' in ${from})` : ''}`);
    return path;
  }
  for (const ext of ['.yaml', '.yml']) {
    const path = join(dir, nameOrPath + ext);
    if (existsSync(path)) return path;
  }
  const known = listConfigs(dir);
  throw new ConfigError(
    `unknown config '${nameOrPath}'${from ? ` (named by 'base' in ${from})` : ''}: expected one of ${known.map((k) => `'${k}'`).join(', ') || '(none)'} in ${dir}, or a path to a .yaml file`,
  );
}

/**
 * The differences a config file holds, with those of its `base:` chain under them. A named
 * config says `base: voc` to start from another one.
 */
function readLayers(path: string, dir: string, seen: string[] = []): Tree {
  if (seen.includes(path)) throw new ConfigError(`config files name each other as 'base' in a cycle: ${[...seen, path].join(' -> ')}`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'), { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isTree(doc)) throw new ConfigError(`${path}: expected a mapping of config keys at the top level`);
  const { base, ...rest } = doc;
  if (base === undefined) return rest;
  if (typeof base !== 'string') throw new ConfigError(`${path}: 'base' must be the name of another config`);
  return mergeConfig(readLayers(configPath(base, dir, path), dir, [...seen, path]), rest);
}

/**
 * `a.b.c=value` as a nested object. The value is read as YAML, so `0.5`, `true`, `null`,
 * `[16, 32]` and `{prob: 0.5}` get their types; anything else stays a string.
 */
export function parseOverride(text: string): Tree {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${text}: expected key.path=value (e.g. --set train.steps=1000)`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(key)) throw new ConfigError(`--set ${text}: '${key}' is not a dotted key path`);
  let value: unknown;
  try {
    value = raw.trim() === '' ? '' : parseYaml(raw);
  } catch {
    value = raw;
  }
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Tree;
}

/** The value at a zod issue's path; arrays are descended too (`model.anchors.sizes.1`). */
function at(tree: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node != null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), tree);
}

/** The keys the schema allows in the object at `path` (through nullable, optional and union wrappers). */
function keysAt(schema: unknown, path: PropertyKey[]): string[] {
  const objectOf = (node: unknown): Record<string, unknown> | null => {
    const def = (node as { def?: { type?: string; innerType?: unknown; options?: unknown[]; shape?: Record<string, unknown> } })?.def;
    if (def == null) return null;
    if (def.type === 'object') return def.shape ?? null;
    if (def.innerType != null) return objectOf(def.innerType);
    for (const option of def.options ?? []) {
      const shape = objectOf(option);
      if (shape) return shape;
    }
    return null;
  };
  let node = schema;
  for (const key of path) node = objectOf(node)?.[String(key)];
  return Object.keys(objectOf(node) ?? {});
}

function describeIssue(issue: core.$ZodIssue, input: unknown): string {
  const key = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const allowed = keysAt(configSchema, issue.path);
    const where = key ? `in '${key}'` : 'at the top level';
    return issue.keys
      .map((k) => `unknown key '${key ? `${key}.` : ''}${k}' ${where}: expected one of ${allowed.join(', ')}`)
      .join('\n');
  }
  const got = at(input, issue.path);
  const shown = got === undefined ? 'nothing' : JSON.stringify(got);
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `${key}: ${shown} is not allowed: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${key}: ${issue.message.replace(/^Invalid input: /, '')} (got ${shown})`;
}

/** Checks a merged config tree; every problem is listed by key. */
export function validateConfig(tree: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(tree);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${describeIssue(issue, tree).replace(/\n/g, '\n  ')}`);
  throw new ConfigError(`${source} is not valid:\n${problems.join('\n')}`);
}

export interface LoadConfigOptions {
  /** `a.b=c` strings (CLI `--set`), applied last, in order. */
  overrides?: readonly string[];
  /** Folder of named configs (default `./configs`). */
  configDir?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The config's name (file name without extension) and the file it came from. */
  name: string;
  path: string;
}

/**
 * Defaults <- `configs/<name>.yaml` (and its `base:` chain) <- overrides, validated.
 * `nameOrPath` is a config name or a path to a .yaml file (a saved checkpoint's config.yaml
 * too: it is fully resolved, so the defaults underneath change nothing).
 */
export function loadConfig(nameOrPath: string, options: LoadConfigOptions = {}): LoadedConfig {
  const dir = options.configDir ?? defaultConfigDir();
  const path = configPath(nameOrPath, dir);
  let tree = mergeConfig(DEFAULTS as unknown as Tree, readLayers(path, dir));
  for (const override of options.overrides ?? []) tree = mergeConfig(tree, parseOverride(override));
  const overridden = options.overrides?.length ? ` with --set ${options.overrides.join(' ')}` : '';
  return { config: validateConfig(tree, `${path}${overridden}`), name: basename(path, extname(path)), path };
}

/** The fully resolved config as YAML (what a checkpoint's config.yaml holds). */
export function configToYaml(config: Config): string {
  return stringifyYaml(config, { lineWidth: 0 });
}
