import { FlywheelError } from '../core/errors.ts';

/** Thrown by startLogServer when its address is taken (EADDRINUSE); the CLI adds the flag that picks another. */
export class PortInUseError extends FlywheelError {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super(`${host}:${port} is already in use (another flywheel serve or dev?)`, options);
    this.host = host;
    this.port = port;
  }
}
