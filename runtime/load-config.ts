import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FlywheelConfig, ProfileConfig, ResolvedTemporalConfig, TemporalConfig } from '../core/config.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import { flywheelConfigSchema } from '../core/config-schema.ts';
import { ConfigError } from '../core/errors.ts';
import { importTypeScript } from './import-typescript.ts';

export const CONFIG_FILE = 'flywheel.config.ts';

/** A loaded configuration with one profile chosen and every relative path made absolute. */
export interface ResolvedConfig {
  readonly configFile: string;
  readonly projectRoot: string;
  readonly project: string;
  readonly definitionsDir: string;
  readonly stateDir: string;
  readonly profileName: string;
  /** The chosen profile, its paths absolute and its task queues filled in (`flywheel-<project>` for all by default; core/task-queues.ts). */
  readonly profile: ProfileConfig & { readonly temporal: ResolvedTemporalConfig };
}

/** Finds flywheel.config.ts in `start` or the folders above it. */
export function findConfigFile(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export async function loadConfig(options: { config?: string; profile?: string; cwd?: string } = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const configFile = options.config ? resolve(cwd, options.config) : findConfigFile(cwd);
  if (!configFile || !existsSync(configFile)) {
    throw new ConfigError(
      options.config
        ? `config file ${options.config} does not exist`
        : `no ${CONFIG_FILE} found in ${cwd} or the folders above it; run flywheel from a project folder, pass --config, or start a project with flywheel init`,
    );
  }
  let exported: unknown;
  try {
    exported = ((await importTypeScript(pathToFileURL(configFile).href)) as { default?: unknown }).default;
  } catch (cause) {
    throw new ConfigError(`cannot load: ${(cause as Error).message}`, { file: configFile }, { cause });
  }
  const parsed = flywheelConfigSchema.safeParse(exported);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.');
    throw new ConfigError(
      exported === undefined ? 'has no default export; export default defineConfig({...})' : issue.message,
      { file: configFile, ...(field ? { field } : {}) },
    );
  }
  return resolveProfile(parsed.data, configFile, options.profile ?? (process.env.FLYWHEEL_PROFILE || undefined));
}

function resolveProfile(config: FlywheelConfig, configFile: string, requested: string | undefined): ResolvedConfig {
  const projectRoot = dirname(configFile);
  const profileName = requested ?? config.defaultProfile ?? 'local';
  const profile = config.profiles[profileName];
  if (!profile) {
    throw new ConfigError(`no profile "${profileName}"; the profiles are ${Object.keys(config.profiles).join(', ')}`, { file: configFile, field: 'profiles' });
  }
  const abs = (path: string) => resolve(projectRoot, path);
  const stateDir = abs(config.stateDir ?? '.flywheel');
  // DuckDB spills into the state folder unless told otherwise (its own default is beside the database file).
  const offline = profile.offline.type === 'duckdb'
    ? { ...profile.offline, path: abs(profile.offline.path), tempDirectory: profile.offline.tempDirectory !== undefined ? abs(profile.offline.tempDirectory) : join(stateDir, 'duckdb-temp') }
    : profile.offline;
  const objectStore = profile.objectStore.type === 'local' ? { ...profile.objectStore, root: abs(profile.objectStore.root) } : profile.objectStore;
  const onlineStore = profile.onlineStore.type === 'sqlite' ? { ...profile.onlineStore, path: abs(profile.onlineStore.path) } : profile.onlineStore;
  return {
    configFile,
    projectRoot,
    project: config.project,
    definitionsDir: abs(config.definitions),
    stateDir,
    profileName,
    profile: { ...profile, offline, objectStore, onlineStore, temporal: resolveTemporal(config.project, profile.temporal) },
  };
}

/** The project queue and every workload's queue, resolved once here so every starter and worker agrees. */
function resolveTemporal(project: string, temporal: TemporalConfig): ResolvedTemporalConfig {
  const { taskQueues: _named, ...rest } = temporal;
  const taskQueues = resolveTaskQueues(project, temporal);
  return { ...rest, taskQueue: taskQueues.project, taskQueues };
}
