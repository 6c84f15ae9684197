/**
 * Flywheel's workflows. They only orchestrate: every read and write happens in activities, which
 * they see as types. This module is bundled for the workflow sandbox, so it imports no Node
 * built-ins, connectors, clocks or randomness (enforced by lint).
 */
export { buildTrainingSet, trainingSetProgressQuery } from './build-training-set.ts';
export { scheduledTrainingSet } from './scheduled-training-set.ts';
export { backfillTrainingSet, backfillProgressQuery } from './backfill-training-set.ts';
export { ingestSegment, ingestPending, ingestStream, loadStreamSegment } from './ingest.ts';
export { ingestSweep, ingestSweepQuery } from './ingest-sweep.ts';
export { replayQuarantine, replayStreamQuarantine } from './quarantine.ts';
export { materializeFeatureView, materializeProgressQuery } from './materialize.ts';
export { flywheelLoop, loopProgressQuery } from './flywheel-loop.ts';
export { buildLabels, buildLabelPartition, labelsProgressQuery } from './build-labels.ts';
export { enforceRetention, retentionProgressQuery } from './enforce-retention.ts';
export { batchScore, batchScoreProgressQuery } from './batch-score.ts';
