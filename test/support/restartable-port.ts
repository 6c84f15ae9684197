import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../../cli/dev/child-process.ts';

/**
 * A free port for a server that a test stops and starts again on the same port (the Temporal dev
 * server of test/fault-temporal-restart.test.ts, a Redis the fault tests restart). freePort's ports
 * come from the kernel's ephemeral range, from which every outgoing connection on the machine also
 * takes its local port: while the server is down, a client anywhere in the suite can be given its
 * port, and the restart fails with "address already in use" (the Temporal restart test did, in a
 * clean-clone CI run). So these ports are drawn below that range, where the kernel hands out no port
 * by itself; each is checked free when drawn.
 */
export async function restartablePort(host = '127.0.0.1'): Promise<number> {
  const lowest = 10_000;
  const highest = ephemeralRangeStart() - 1;
  if (highest <= lowest) return freePort(host);
  for (let tries = 0; tries < 50; tries++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port between ${lowest} and ${highest} on ${host} after 50 tries`);
}

/** The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range), else Linux's default. */
function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(start) && start > 0) return start;
  } catch {
    // not Linux: the default below
  }
  return 32_768;
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
