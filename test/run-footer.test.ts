import { describe, expect, it } from 'vitest';
import { formatElapsed, runFooter, temporalRunUrl } from '../cli/format/run-footer.ts';

describe('the footer of a run summary', () => {
  const id = 'shop/training-set/fraud/2024-03-01..2024-03-02';

  it('links the run in the Temporal UI: flywheel dev locally, Temporal Cloud, or the profile webUrl', () => {
    expect(temporalRunUrl({ address: 'localhost:7233', namespace: 'default' }, id)).toBe('http://localhost:8233/namespaces/default/workflows/shop%2Ftraining-set%2Ffraud%2F2024-03-01..2024-03-02');
    expect(temporalRunUrl({ address: '127.0.0.1:7233', namespace: 'default' }, 'a b')).toBe('http://localhost:8233/namespaces/default/workflows/a%20b');
    expect(temporalRunUrl({ address: 'acme.a1b2c.tmprl.cloud:7233', namespace: 'acme.a1b2c' }, 'x')).toBe('https://cloud.temporal.io/namespaces/acme.a1b2c/workflows/x');
    expect(temporalRunUrl({ address: 'temporal.internal:7233', namespace: 'ml', webUrl: 'https://temporal-ui.acme.internal/' }, 'x')).toBe('https://temporal-ui.acme.internal/namespaces/ml/workflows/x');
    expect(temporalRunUrl({ address: 'temporal.internal:7233', namespace: 'ml' }, 'x')).toBeUndefined();
  });

  it('says how long the run took, in units that read', () => {
    expect([450, 12_345, 59_949, 65_000, 3_599_400, 3_725_000].map(formatElapsed)).toEqual(['0.5 s', '12.3 s', '59.9 s', '1 min 05 s', '59 min 59 s', '1 h 02 min']);
    expect(runFooter({ address: 'localhost:7233', namespace: 'default' }, 'p/loop/all/x', 4200)).toBe('  took 4.2 s; in the Temporal UI: http://localhost:8233/namespaces/default/workflows/p%2Floop%2Fall%2Fx\n');
    expect(runFooter({ address: 'temporal.internal:7233', namespace: 'ml' }, 'p/loop/all/x', 4200)).toBe('  took 4.2 s; workflow p/loop/all/x\n');
  });
});
