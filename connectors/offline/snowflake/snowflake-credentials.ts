import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../core/errors.ts';
import type { OfflineStoreConfig } from '../../../core/config.ts';

export type SnowflakeProfile = Extract<OfflineStoreConfig, { type: 'snowflake' }>;

/** The driver options that sign in, read from the environment variables a profile names. */
export type SnowflakeCredentials =
  | { readonly authenticator: 'SNOWFLAKE'; readonly password: string }
  | { readonly authenticator: 'SNOWFLAKE_JWT'; readonly privateKey: string; readonly privateKeyPass?: string }
  | { readonly authenticator: 'OAUTH'; readonly token: string };

/**
 * Reads the one credential a Snowflake profile names (passwordEnv, privateKeyPathEnv, privateKeyEnv
 * or oauthTokenEnv) from `env`. The profile holds only variable names, so secrets never reach the
 * config, workflow inputs or histories. Throws ConfigError naming the variable and the field when a
 * variable is unset or empty, or a key file cannot be read or is not a PEM private key.
 */
export function readSnowflakeCredentials(profile: SnowflakeProfile, env: NodeJS.ProcessEnv = process.env): SnowflakeCredentials {
  const named = (['passwordEnv', 'privateKeyPathEnv', 'privateKeyEnv', 'oauthTokenEnv'] as const).filter((field) => profile[field] !== undefined);
  if (named.length !== 1) {
    throw new ConfigError(
      named.length === 0
        ? 'name the environment variable of one credential: passwordEnv, privateKeyPathEnv, privateKeyEnv or oauthTokenEnv'
        : `name one credential, not ${named.join(' and ')}`,
      { field: 'offline.passwordEnv' },
    );
  }
  const field = named[0]!;
  const value = required(env, profile[field]!, field);
  switch (field) {
    case 'passwordEnv':
      return { authenticator: 'SNOWFLAKE', password: value };
    case 'oauthTokenEnv':
      return { authenticator: 'OAUTH', token: value };
    case 'privateKeyPathEnv':
    case 'privateKeyEnv': {
      const pem = field === 'privateKeyEnv' ? value : readKeyFile(value, profile[field]!);
      if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
        const source = field === 'privateKeyEnv' ? `environment variable ${profile[field]}` : `the file ${value} (from ${profile[field]})`;
        throw new ConfigError(`${source} does not hold a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----)`, { field: `offline.${field}` });
      }
      const passphrase = profile.privateKeyPassphraseEnv === undefined ? undefined : required(env, profile.privateKeyPassphraseEnv, 'privateKeyPassphraseEnv');
      if (pem.includes('ENCRYPTED PRIVATE KEY') && passphrase === undefined) {
        throw new ConfigError('the private key is encrypted: name the environment variable holding its passphrase in privateKeyPassphraseEnv', { field: 'offline.privateKeyPassphraseEnv' });
      }
      return { authenticator: 'SNOWFLAKE_JWT', privateKey: pem, ...(passphrase !== undefined ? { privateKeyPass: passphrase } : {}) };
    }
  }
}

function required(env: NodeJS.ProcessEnv, name: string, field: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`environment variable ${name} is not set`, { field: `offline.${field}` });
  return value;
}

function readKeyFile(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the private key file ${path} (from ${variable}): ${(error as Error).message}`, { field: 'offline.privateKeyPathEnv' }, { cause: error });
  }
}
