import { describe, expect, it } from 'vitest';
import { displayNumber, formatDataset } from '../cli/format/dataset-text.ts';
import type { DatasetManifest } from '../core/training-set/manifest.ts';

describe('flywheel datasets show, as text', () => {
  const partitions = Array.from({ length: 20 }, (_, i) => ({ key: `day=2024-03-${String(i + 1).padStart(2, '0')}`, rowCount: 1000 + i, version: `v${i}`, registryVersion: 1 }));
  // Only what the text reads of a manifest.
  const manifest = {
    rowCount: 20_190, partitionBy: 'day', timeRange: { from: '2024-03-01T00:00:00.000Z', to: '2024-03-21T00:00:00.000Z' },
    schema: [{ name: 'user_id', type: 'int64' }, { name: 'merchant_chargeback_rate_30d', type: 'float64' }], partitions,
  } as unknown as DatasetManifest;

  it('aligns the schema and folds a long partition list to its first and last five unless --all', () => {
    const text = formatDataset('fraud', 'file:///d', manifest, undefined);
    expect(text).toContain('Schema:\n  user_id                       int64\n  merchant_chargeback_rate_30d  float64\n');
    const listed = text.split('\n').filter((line) => line.startsWith('day=') || line.startsWith('…'));
    expect(listed.map((line) => line.split(/\s+/)[0])).toEqual(['day=2024-03-01', 'day=2024-03-02', 'day=2024-03-03', 'day=2024-03-04', 'day=2024-03-05', '…', 'day=2024-03-16', 'day=2024-03-17', 'day=2024-03-18', 'day=2024-03-19', 'day=2024-03-20']);
    expect(listed[5]).toBe('… 10 more (--all lists them)');
    expect(formatDataset('fraud', 'file:///d', manifest, undefined, { all: true }).split('\n').filter((line) => line.startsWith('day=')).length).toBe(20);
  });

  it('rounds statistics to four significant digits for reading', () => {
    expect([700.5, 86.99001, 0.0652174, 5147.5, 1_234_567.891, 0.00001234, 2, -0.5].map(displayNumber)).toEqual(['700.5', '86.99', '0.06522', '5,148', '1,235,000', '0.00001234', '2', '-0.5']);
  });
});
