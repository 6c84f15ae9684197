/**
 * The plumbing the CLI, `flywheel serve` and the worker share: a project's configuration with one
 * profile chosen (`loadConfig` → `ResolvedConfig`) and connections to its Temporal. Neither `cli/`
 * nor `worker/` owns it, so the worker never imports the CLI and the CLI never imports the worker.
 *
 * @example
 * const config = await loadConfig({ profile: 'prod' });
 * const connection = await connectClient(config.profile.temporal);
 * const client = new Client({ connection, namespace: config.profile.temporal.namespace });
 */
export { CONFIG_FILE, findConfigFile, loadConfig, type ResolvedConfig } from './load-config.ts';
export { connectClient, connectWorker, TemporalUnreachableError } from './temporal-connection.ts';
