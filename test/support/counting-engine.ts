import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import type { OfflineEngine, ParquetUnloader } from '../../connectors/offline/offline-engine.ts';

/**
 * Statements an engine was asked to run, by method: what a run costs in round trips to the warehouse
 * (each ~100 ms or more on Snowflake). Every call that sends the warehouse work counts once;
 * tableFacts counts once per table (one catalog lookup, whatever the engine issues for it).
 */
export type StatementCounts = Map<string, number>;

/** The total of `counts`. */
export function totalStatements(counts: StatementCounts): number {
  return [...counts.values()].reduce((sum, n) => sum + n, 0);
}

/**
 * `engine` as it is, counting each call that sends the warehouse work into `counts` (statements
 * inside a transaction included, BEGIN and COMMIT as one `transaction`). The real engine runs every
 * statement: nothing is answered here.
 */
export function countingEngine(engine: OfflineEngine, counts: StatementCounts): OfflineEngine {
  const count = (method: string) => counts.set(method, (counts.get(method) ?? 0) + 1);
  return {
    dialect: engine.dialect,
    run: (query) => (count('run'), engine.run(query)),
    all: (query) => (count('all'), engine.all(query)),
    stream: (query, options) => (count('stream'), engine.stream(query, options)),
    describe: (query) => (count('describe'), engine.describe(query)),
    transaction: (work) => {
      count('transaction');
      return engine.transaction((tx) => work({ run: (q) => (count('run'), tx.run(q)), all: (q) => (count('all'), tx.all(q)) }));
    },
    tableFacts: (table) => (count('tableFacts'), engine.tableFacts(table)),
    createWorkingTable: (name, query) => (count('createWorkingTable'), engine.createWorkingTable(name, query)),
    exportParquet: (query, path) => (count('exportParquet'), engine.exportParquet(query, path)),
    exportParquetFiles: (exports, options) => (exports.forEach(() => count('exportParquet')), engine.exportParquetFiles(exports, options)),
    stageFiles: (files, options) => (count('stageFiles'), engine.stageFiles(files, options)),
    unstageFiles: (staged) => (count('unstageFiles'), engine.unstageFiles(staged)),
    exportPartitionedParquet: (job, dir) => (count('exportPartitionedParquet'), engine.exportPartitionedParquet(job, dir)),
    unloadTo: (store: ObjectStore) => {
      const unloader = engine.unloadTo(store);
      return unloader && ({ unloadPartitioned: (job, prefix) => (count('unloadPartitioned'), unloader.unloadPartitioned(job, prefix)) } satisfies ParquetUnloader);
    },
    close: () => engine.close(),
  };
}
