/** What is wrong with a DSP's certificate Node refused, by the refusal's code. */
const CERTIFICATE_CAUSES: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate has been revoked',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate is issued by a self-signed authority no client trusts',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'certificate is issued by an unknown authority, or sent without its intermediate certificates',
  UNABLE_TO_GET_ISSUER_CERT:
    'certificate is issued by an unknown authority, or sent without its intermediate certificates',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'certificate is issued by an unknown authority, or sent without its intermediate certificates',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate hostname mismatch: it is not for the host called',
};

/** What went wrong in a handshake OpenSSL failed, by the reason OpenSSL gives. */
const HANDSHAKE_CAUSES: Readonly<Record<string, string>> = {
  'certificate verify failed': 'certificate could not be verified',
  'wrong version number': 'handshake failure: the server does not speak TLS on this port',
  'tlsv1 alert protocol version': 'handshake failure: no TLS version both sides support',
  'unsupported protocol': 'handshake failure: no TLS version both sides support',
  'sslv3 alert handshake failure': 'handshake failure: no cipher or protocol both sides support',
  'no cipher match': 'handshake failure: no cipher both sides support',
};

/**
 * An OpenSSL error in a message, `error:0A00010B:SSL routines:ssl3_get_record:wrong version number`
 * (its function name may be empty): its code and its reason.
 */
const OPENSSL_ERROR = /error:([0-9A-F]{8}):SSL routines:[^:]*:([^:\n]+)/;

/**
 * Why a call failed in TLS, in words, for a delivery's last error: a refused certificate (expired,
 * self-signed, of an unknown authority, for another host) or a failed handshake, the error's code
 * (and OpenSSL's) kept in parentheses, as `TLS certificate has expired (CERT_HAS_EXPIRED)`, where
 * Node gives OpenSSL's own text; `undefined` for an error that is not TLS's.
 */
export function tlsFailureText(error: NodeJS.ErrnoException): string | undefined {
  const { code } = error;
  const certificateCause = code === undefined ? undefined : CERTIFICATE_CAUSES[code];
  if (certificateCause !== undefined) return `TLS ${certificateCause} (${code})`;
  const openssl = OPENSSL_ERROR.exec(error.message);
  if (openssl === null) return undefined;
  const [, opensslCode = '', reason = ''] = openssl;
  const cause = HANDSHAKE_CAUSES[reason] ?? `handshake failure: ${reason}`;
  return `TLS ${cause} (${code === undefined ? '' : `${code}, `}error:${opensslCode})`;
}
