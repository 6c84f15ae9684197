import { PortInUseError } from '../../server/port-in-use-error.ts';
import { UsageError } from '../errors.ts';

/** Runs `start`; a taken port becomes a usage error naming the flag that picks another. */
export async function namingPortFlag<T>(flag: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof PortInUseError) throw new UsageError(`${error.message}: pick another port with ${flag} <port>`, { cause: error });
    throw error;
  }
}
