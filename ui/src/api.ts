/**
 * The pages' way to the JSON API: `useApi(path)`, a hook over fetch-api.ts (where the token and the
 * calls started before the page was drawn live).
 */
import { useEffect, useState } from 'react';
import { takeOrGetJson, type ApiError } from './fetch-api.ts';

export { ApiError, setToken } from './fetch-api.ts';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: ApiError | Error } | { state: 'done'; data: T };

/** Fetches `path` (again when it changes); `null` fetches nothing. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    if (path === null) return;
    let current = true;
    setLoaded({ state: 'loading' });
    takeOrGetJson<T>(path).then(
      (data) => current && setLoaded({ state: 'done', data }),
      (error: unknown) => current && setLoaded({ state: 'error', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      current = false;
    };
  }, [path]);
  return loaded;
}
