/** The `deliveries` rows the ledger reads, and the deliveries it answers from them. */
import type { Delivery, DeliveryStatus } from '../../ports/ledger.js';

/** A `deliveries` row as `SELECT *` reads it. */
export interface DeliveryRow {
  id: number;
  dedupe_key: string;
  url: string;
  host: string;
  device_ip: string;
  user_agent: string;
  status: DeliveryStatus;
  attempts: number;
  created_ms: number;
  due_ms: number;
  deadline_ms: number;
  last_error: string;
  delivered_ms: number | null;
  first_failed_ms: number | null;
}

/** A delivery as the ledger answers it, from its row. */
export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    url: row.url,
    deviceIp: row.device_ip,
    userAgent: row.user_agent,
    status: row.status,
    attempts: row.attempts,
    createdMs: row.created_ms,
    dueMs: row.due_ms,
    deadlineMs: row.deadline_ms,
    lastError: row.last_error,
    deliveredMs: row.delivered_ms,
  };
}
