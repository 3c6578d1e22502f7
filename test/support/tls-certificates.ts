import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private key and its certificate chain, PEM, as `https.createServer` takes them. */
export interface KeyAndCertificate {
  key: string;
  cert: string;
}

/** Certificates for 127.0.0.1 that no client trusts, one for each way TLS refuses them. */
export interface TestCertificates {
  /** Signed by its own key. */
  selfSigned: KeyAndCertificate;
  /** Signed by a CA no client knows, sent without it. */
  unknownIssuer: KeyAndCertificate;
  /** Signed by a CA no client knows, sent with it. */
  selfSignedRoot: KeyAndCertificate;
}

/**
 * Makes {@link TestCertificates} with the `openssl` command line (P-256 keys, valid for a day),
 * in a directory removed afterwards. Throws when `openssl` is not installed.
 */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tally-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      file('self.key'),
      '-out',
      file('self.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    );
    openssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=Tally test CA',
    );
    openssl(
      'req',
      ...newKey,
      '-keyout',
      file('leaf.key'),
      '-out',
      file('leaf.csr'),
      '-subj',
      '/CN=127.0.0.1',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('leaf.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('leaf.crt'),
      '-days',
      '1',
      '-extfile',
      file('ext'),
    );
    const read = (name: string) => readFileSync(file(name), 'utf8');
    return {
      selfSigned: { key: read('self.key'), cert: read('self.crt') },
      unknownIssuer: { key: read('leaf.key'), cert: read('leaf.crt') },
      selfSignedRoot: { key: read('leaf.key'), cert: read('leaf.crt') + read('ca.crt') },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
