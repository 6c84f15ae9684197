import type { RunningLogServer } from './log-server.ts';

/**
 * Resolves once the server has shut down cleanly after SIGINT or SIGTERM (stop accepting, finish
 * requests in flight, close open segments). A second signal exits at once: nothing acknowledged is
 * lost, and the next start recovers the open segments.
 */
export function closeOnSignal(server: RunningLogServer, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        log(`${signal} again: exiting without waiting (open segments are recovered on the next start)`);
        process.exit(130);
      }
      signalled = true;
      log(`${signal}: shutting down (finishing requests in flight, closing segments)`);
      server.close().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        log('log API stopped');
        resolve();
      }, reject);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
