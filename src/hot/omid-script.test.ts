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

/** An OM SDK ad view (`AdViewEventData`) of a 320×50 banner wholly on screen, and one wholly off it. */
const IN_VIEW = { percentageInView: 100, pixelsInView: 16_000 };
const OUT_OF_VIEW = { percentageInView: 0, pixelsInView: 0 };

/** The script run with a fake client whose session has started with Tally's notice URL. */
function started(): ReturnType<typeof fakeClient> {
  const client = fakeClient();
  runInNewContext(OMID_VERIFICATION_SCRIPT, { OmidVerificationClient: client.versions });
  client.emit('sessionStart', { verificationParameters: NOTICE });
  return client;
}

describe('the OMID verification script without a document (a DOM-less OMID environment)', () => {
  it('takes the notice URL from its verificationParameters and fires it once, on the impression event only', () => {
    const client = fakeClient();
    runInNewContext(OMID_VERIFICATION_SCRIPT, { OmidVerificationClient: client.versions });
    client.emit('sessionStart', { verificationParameters: NOTICE });
    client.emit('loaded');
    client.emit('geometryChange', { adView: IN_VIEW });
    assert.deepEqual(client.sent, [], 'not on the session start, the ad loaded or its geometry');
    client.emit('impression', { impressionType: 'onePixel' });
    client.emit('impression', { impressionType: 'onePixel' });
    assert.deepEqual(client.sent, [NOTICE]);
    assert.deepEqual(client.vendorKeys, ['tally']);
  });

  it('fires on the impression of an integration counting on one pixel or on viewability at once', () => {
    for (const impressionType of ['onePixel', 'viewable']) {
      const client = started();
      client.emit('impression', { impressionType, eventAdView: OUT_OF_VIEW });
      assert.deepEqual(client.sent, [NOTICE], impressionType);
    }
  });

  it('fires the impression of an integration counting on download, or on no stated criteria, only once one pixel of the ad is in view', () => {
    for (const impressionType of [
      'loaded',
      'beginToRender',
      'unspecified',
      'definedByJavaScript',
      undefined,
    ]) {
      const client = started();
      client.emit('impression', { impressionType, eventAdView: OUT_OF_VIEW });
      client.emit('geometryChange', { adView: OUT_OF_VIEW });
      assert.deepEqual(client.sent, [], `${impressionType}: an ad rendered off screen is no impression yet`);
      client.emit('geometryChange', { adView: { ...OUT_OF_VIEW, pixelsInView: 1 } });
      client.emit('geometryChange', { adView: IN_VIEW });
      assert.deepEqual(client.sent, [NOTICE], `${impressionType}: once, at the first pixel in view`);
    }
  });

  it('fires at the impression when the ad is in view then, by the event or the geometry before it', () => {
    const client = started();
    client.emit('impression', { impressionType: 'loaded', eventAdView: IN_VIEW });
    assert.deepEqual(client.sent, [NOTICE], 'the event says the ad is in view');
    const older = started();
    older.emit('geometryChange', { adView: IN_VIEW });
    older.emit('impression', {});
    assert.deepEqual(older.sent, [NOTICE], 'an impression event without its ad view, as OM SDK 1.2 sends');
    const scrolledAway = started();
    scrolledAway.emit('geometryChange', { adView: IN_VIEW });
    scrolledAway.emit('geometryChange', { adView: OUT_OF_VIEW });
    scrolledAway.emit('impression', { impressionType: 'loaded' });
    assert.deepEqual(scrolledAway.sent, [], 'the latest geometry is what counts');
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
