/** Small pieces every page uses: loading and error states, code blocks, key-value lists, health badges. */
import { useState, type ReactNode } from 'react';
import { ApiError, setToken, type Loaded } from '../api.ts';

export const HEALTH_COLORS: Readonly<Record<string, string>> = {
  fresh: '#1a7f37',
  stale: '#9a6700',
  failing: '#cf222e',
  never: '#57606a',
  static: '#0969da',
};

export const HEALTH_WORDS: Readonly<Record<string, string>> = {
  fresh: 'fresh',
  stale: 'stale',
  failing: 'failing',
  never: 'never run',
  static: 'definition',
};

export function HealthBadge({ health }: { health: string }) {
  return <span className="badge" style={{ borderColor: HEALTH_COLORS[health], color: HEALTH_COLORS[health] }}>{HEALTH_WORDS[health] ?? health}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  const color = status === 'COMPLETED' ? HEALTH_COLORS.fresh : status === 'RUNNING' ? HEALTH_COLORS.static : status === 'FAILED' || status === 'TIMED_OUT' || status === 'TERMINATED' ? HEALTH_COLORS.failing : HEALTH_COLORS.never;
  return <span className="badge" style={{ borderColor: color, color }}>{status.toLowerCase().replace('_', ' ')}</span>;
}

/** Renders `children(data)` once loaded; a sign-in form on 401. */
export function Loading<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ReactNode }) {
  if (loaded.state === 'loading') return <p className="muted" role="status">Loading…</p>;
  if (loaded.state === 'error') {
    const { error } = loaded;
    if (error instanceof ApiError && error.status === 401) return <SignIn message={error.message} />;
    return <div className="error" role="alert"><strong>{error instanceof ApiError ? `${error.status} ${error.code}` : 'Error'}:</strong> {error.message}</div>;
  }
  return <>{children(loaded.data)}</>;
}

function SignIn({ message }: { message: string }) {
  const [token, setValue] = useState('');
  return (
    <form className="signin" onSubmit={(event) => { event.preventDefault(); setToken(token.trim()); window.location.reload(); }}>
      <h2>Sign in</h2>
      <p>The UI reads the project with a token that has the <code>read</code> scope ({message}). <code>flywheel ui</code> prints an address with one.</p>
      <label htmlFor="token">Token</label>
      <input id="token" type="password" value={token} onChange={(event) => setValue(event.target.value)} autoComplete="off" />
      <button type="submit">Sign in</button>
    </form>
  );
}

export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <figure className="code">
      <figcaption>{label}</figcaption>
      <pre tabIndex={0}><code>{code}</code></pre>
    </figure>
  );
}

export function Facts({ items }: { items: readonly [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}
