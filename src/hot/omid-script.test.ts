import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { OMID_VERIFICATION_SCRIPT } from './omid-script.js';

const NOTICE = 'https://tally.example/n/token';

/** An OM SDK verification client as a verification script sees it, driven by the test. */
function fakeClient() {
  const sent: string[] = [];
  const listeners = new Map<string, ((event: unknown) => void)[]>();
  const observers: ((event: unknown) => void)[] = [];
  const vendorKeys: string[] = [];
  function Client(this: Record<string, unknown>) {
    this.isSupported = () => true;
    this.registerSessionObserver = (observer: (event: unknown) => void, vendorKey: string) => {
      observers.push(observer);
      vendorKeys.push(vendorKey);
    };
    this.addEventListener = (type: string, listener: (event: unknown) => void) =>
      listeners.set(type, [...(listeners.get(type) ?? []), listener]);
    this.sendUrl = (url: string) => sent.push(url);
  }
  const emit = (type: string, data: unknown = {}) => {
    const event = { type, data };
    if (type.startsWith('session')) for (const observer of observers) observer(event);
    else for (const listener of listeners.get(type) ?? []) listener(event);
  };
  return { versions: { '1.5.2-iab': Client }, sent, emit, vendorKeys };
}

describe('the OMID verification script without a document (a DOM-less OMID environment)', () => {
  it('takes the notice URL from its verificationParameters and fires it once, on the impression event only', () => {
    const client = fakeClient();
    runInNewContext(OMID_VERIFICATION_SCRIPT, { OmidVerificationClient: client.versions });
    client.emit('sessionStart', { verificationParameters: NOTICE });
    client.emit('loaded');
    assert.deepEqual(client.sent, [], 'not on the session start or the ad loaded');
    client.emit('impression');
    client.emit('impression');
    assert.deepEqual(client.sent, [NOTICE]);
    assert.deepEqual(client.vendorKeys, ['tally']);
  });

  it('fires nothing for parameters that are no http(s) URL, and does nothing, without throwing, with no client', () => {
    const client = fakeClient();
    runInNewContext(OMID_VERIFICATION_SCRIPT, { OmidVerificationClient: client.versions });
    client.emit('sessionStart', { verificationParameters: 'javascript:alert(1)' });
    client.emit('impression');
    assert.deepEqual(client.sent, []);
    assert.doesNotThrow(() => runInNewContext(OMID_VERIFICATION_SCRIPT, {}));
  });
});
