import { describe, expect, it } from 'vitest';
import { formatStatusText } from '../cli/format/status-text.ts';
import type { ViewMaterializationStatus } from '../core/materialization/status.ts';

const view = (name: string, over: Partial<ViewMaterializationStatus> = {}): ViewMaterializationStatus => ({
  view: name, schedule: null, paused: false, intervalSeconds: null, watermark: null, ageSeconds: null, state: 'never', stale: true,
  mode: null, rows: null, finishedAt: null, definitionChanged: false, ...over,
});
const document = (featureViews: ViewMaterializationStatus[]) => ({ project: 'shop', registryVersion: 2, now: '2024-05-01T12:00:00.000Z', featureViews });

describe('flywheel status, as text', () => {
  it('says how to fill a view that was never materialized', () => {
    expect(formatStatusText(document([view('user_spend')])).split('\n').slice(-2)).toEqual([
      'user_spend has no values online yet (served as missing): run `flywheel materialize user_spend`, or `flywheel loop run` for all of them.', '',
    ]);
    const fresh = view('user_windows', { schedule: 'every 1h', intervalSeconds: 3600, watermark: '2024-05-01T11:30:00.000Z', ageSeconds: 1800, state: 'fresh', stale: false, mode: 'full', rows: 4210 });
    const text = formatStatusText(document([view('user_spend'), view('user_static'), fresh]));
    expect(text).toContain('  user_windows  every 1h  2024-05-01T11:30:00.000Z  30m  4,210  fresh\n');
    expect(text.split('\n').slice(-3)).toEqual(['1 of 3 online feature views fresh, 2 stale.', '2 views have no values online yet (served as missing): run `flywheel materialize <view>`.', '']);
    expect(formatStatusText(document([fresh]))).not.toContain('no values online yet');
  });
});
