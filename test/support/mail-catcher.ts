import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A mail the catcher took: its envelope and its text (headers and body). */
export interface CaughtMail {
  from: string;
  to: string[];
  text: string;
}

/** A real SMTP server on loopback that keeps every mail it takes. */
export interface MailCatcher {
  /** `smtp://127.0.0.1:<port>`, as `TALLY_SMTP_URL` takes it. */
  url: string;
  /** The mails taken, in order. */
  mails: CaughtMail[];
  close(): Promise<void>;
}

/**
 * Starts a mail catcher on a free loopback port: no TLS, no authentication, and a recipient whose
 * address starts with `refused` is refused, as a mail server refuses an unknown mailbox.
 */
export async function startMailCatcher(): Promise<MailCatcher> {
  const mails: CaughtMail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onRcptTo(address, _session, callback) {
      callback(address.address.startsWith('refused') ? new Error('no such mailbox') : undefined);
    },
    onData(stream, session, callback) {
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      stream.on('end', () => {
        const { mailFrom, rcptTo } = session.envelope;
        mails.push({
          from: mailFrom === false ? '' : mailFrom.address,
          to: rcptTo.map((rcpt) => rcpt.address),
          text,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`,
    mails,
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}
