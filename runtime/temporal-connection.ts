import { readFile } from 'node:fs/promises';
// Types only here: the Temporal client and worker packages take a while to load, so each is imported
// when a connection is made, and a CLI command that never connects never loads them.
import type { Connection, ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../core/config.ts';
import { ConfigError, FlywheelError } from '../core/errors.ts';

/** Thrown when no Temporal frontend answers at the configured address. */
export class TemporalUnreachableError extends FlywheelError {
  readonly address: string;
  constructor(config: TemporalConfig, cause: unknown) {
    super(
      `Cannot reach the Temporal server at ${config.address} (namespace "${config.namespace}"). ` +
        'Start a local one with `flywheel dev`, or point the profile\'s temporal.address at your cluster.',
      { cause },
    );
    this.address = config.address;
  }
}

/**
 * TLS material and API keys are read from the environment variables the profile names, here in the
 * worker or CLI process, so they never appear in config files, workflow inputs or histories.
 */
async function securityOptions(config: TemporalConfig): Promise<Pick<ConnectionOptions, 'tls' | 'apiKey'>> {
  const fromEnv = (name: string | undefined, field: string) => {
    if (!name) return undefined;
    const value = process.env[name];
    if (!value) throw new ConfigError(`environment variable ${name} is not set`, { field });
    return value;
  };
  const readPem = async (envName: string | undefined, field: string) => {
    const path = fromEnv(envName, field);
    return path ? readFile(path) : undefined;
  };
  const apiKey = fromEnv(config.apiKeyEnv, 'temporal.apiKeyEnv');
  if (!config.tls) return apiKey ? { apiKey, tls: true } : {};
  const ca = await readPem(config.tls.serverRootCaPathEnv, 'temporal.tls.serverRootCaPathEnv');
  const crt = await readPem(config.tls.clientCertPathEnv, 'temporal.tls.clientCertPathEnv');
  const key = await readPem(config.tls.clientKeyPathEnv, 'temporal.tls.clientKeyPathEnv');
  return {
    ...(apiKey ? { apiKey } : {}),
    tls: {
      ...(config.tls.serverName ? { serverNameOverride: config.tls.serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    },
  };
}

/** A client connection (CLI, HTTP server). Fails fast with a message naming the address. */
export async function connectClient(config: TemporalConfig): Promise<Connection> {
  const { Connection } = await import('@temporalio/client');
  try {
    return await Connection.connect({ address: config.address, connectTimeout: '5s', ...(await securityOptions(config)) });
  } catch (error) {
    if (error instanceof FlywheelError) throw error;
    throw new TemporalUnreachableError(config, error);
  }
}

/** A worker connection. */
export async function connectWorker(config: TemporalConfig): Promise<NativeConnection> {
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect({ address: config.address, ...((await securityOptions(config)) as Pick<NativeConnectionOptions, 'tls' | 'apiKey'>) });
  } catch (error) {
    if (error instanceof FlywheelError) throw error;
    throw new TemporalUnreachableError(config, error);
  }
}
