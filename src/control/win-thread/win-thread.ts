import { RequestThread } from '../../lib/request-thread.js';
import type { WinsAnswer } from '../register-wins.js';
import type { WinSettings, WinsRequest } from './protocol.js';

/** Where the wins API has its calls answered. */
export interface WinRegistrar {
  register(accountId: number, body: string): Promise<WinsAnswer>;
}

/** Registers wins on a thread of their own (`worker.ts`), one call at a time. */
export class WinThread implements WinRegistrar {
  private readonly thread: RequestThread<WinsRequest, WinsAnswer>;

  constructor(settings: WinSettings) {
    this.thread = new RequestThread('wins', import.meta.url, settings);
  }

  register(accountId: number, body: string): Promise<WinsAnswer> {
    return this.thread.request({ accountId, body });
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
