import { writeFile } from 'node:fs/promises';
import type { EventStreamSpec } from '../core/definitions/specs.ts';
import type { ProbeEvents } from '../core/ingest/find-refused-events.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { rowRejectionReason } from '../connectors/offline/row-rejection.ts';

/** Thrown inside a probe's transaction to roll it back once its insert went through. */
class ProbeRolledBack extends Error {}

/**
 * A probe (findRefusedEvents) that tries events on the warehouse: it writes `lines[start, end)` to
 * `path` and runs the batch's insert over them as the load would (with the dedupe statement, as
 * batch `batch`), in a transaction it always rolls back. The warehouse's reason for refusing them
 * comes back with `path` (a scratch file, gone afterwards) replaced by `label` (of the events tried); any failure that is
 * not about the events (rowRejectionReason) is thrown, so a failing warehouse never makes events
 * look bad.
 */
export function warehouseProbe(
  engine: OfflineEngine,
  stream: EventStreamSpec,
  options: { lines: readonly Buffer[]; batch: string; path: string; label: string | ((start: number, end: number) => string) },
): ProbeEvents {
  const { lines, batch, path, label } = options;
  return async (start, end) => {
    await writeLines(path, lines.slice(start, end));
    // Staged again for each probe: the file's lines change, and the warehouse may read a copy of it.
    const files = await engine.stageFiles([path], { name: `${batch}-probe`, format: 'jsonLines' });
    const [insertRows] = compileIngestBatch(stream, { batch, stagingRelation: { kind: 'staged', files }, dedupe: 'statement' }, engine.dialect);
    try {
      await engine.transaction(async (tx) => {
        await tx.run(insertRows!);
        throw new ProbeRolledBack();
      });
    } catch (error) {
      if (error instanceof ProbeRolledBack) return undefined;
      const reason = rowRejectionReason(error);
      if (reason === undefined) throw error;
      return reason.replaceAll(path, typeof label === 'string' ? label : label(start, end));
    } finally {
      await engine.unstageFiles(files);
    }
    return undefined;
  };
}

/** Writes `lines` (JSON texts, without newlines) as a file of JSON lines. */
export async function writeLines(path: string, lines: readonly Buffer[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const line of lines) parts.push(line, NEWLINE);
  await writeFile(path, Buffer.concat(parts));
}

const NEWLINE = Buffer.from('\n');

/** An event's `_event_id`, when its JSON can be read and has one. */
export function eventIdOf(line: Buffer): string | null {
  try {
    const id = (JSON.parse(line.toString('utf8')) as { _event_id?: unknown })._event_id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}
