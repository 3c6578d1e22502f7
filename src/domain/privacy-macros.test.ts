import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fillPrivacyMacros, privacyValuesOf, withPrivacyMacrosFilled } from './privacy-macros.js';

const TCF = 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA';

describe('privacy macros', () => {
  it('reads the signals from OpenRTB 2.6 places, else 2.5 ext ones, and leaves absent ones empty', () => {
    assert.deepEqual(
      privacyValuesOf({
        regs: { gdpr: 1, us_privacy: '1YNN', gpp: 'DBABMA~CPXxRfA', gpp_sid: [2, 6] },
        user: { consent: TCF },
      } as object),
      { gdpr: '1', gdprConsent: TCF, usPrivacy: '1YNN', gppString: 'DBABMA~CPXxRfA', gppSid: '2,6' },
    );
    assert.deepEqual(
      privacyValuesOf({
        regs: { ext: { gdpr: 0, us_privacy: '1---' } },
        user: { ext: { consent: TCF } },
      } as object),
      { gdpr: '0', gdprConsent: TCF, usPrivacy: '1---', gppString: '', gppSid: '' },
    );
    assert.deepEqual(privacyValuesOf({ regs: { gdpr: 'yes', gpp_sid: ['2'] } } as object), {
      gdpr: '',
      gdprConsent: '',
      usPrivacy: '',
      gppString: '',
      gppSid: '',
    });
  });

  it('fills only the privacy macros, whatever vendor id they name, and leaves the auction macros to be filled later', () => {
    const values = { gdpr: '1', gdprConsent: 'C&D', usPrivacy: '1YNN', gppString: 'G~1', gppSid: '2,6' };
    assert.equal(
      fillPrivacyMacros(
        'g=${GDPR}&c=${GDPR_CONSENT_755}&u=${US_PRIVACY}&s=${GPP_STRING_32}&i=${GPP_SID}&p=${AUCTION_PRICE}&x=${GDPR_CONSENT_}',
        values,
        encodeURIComponent,
      ),
      'g=1&c=C%26D&u=1YNN&s=G~1&i=2%2C6&p=${AUCTION_PRICE}&x=${GDPR_CONSENT_}',
    );
  });

  it('fills a bid’s burl and nurl percent-encoded and its markup escaped for where each macro stands, and hands back a bid without any as it came', () => {
    const request = { regs: { gdpr: 1 }, user: { consent: 'a"b' } } as object;
    const bid = {
      burl: 'https://dsp.example/b?gc=${GDPR_CONSENT_755}&p=${AUCTION_PRICE}',
      nurl: 'https://dsp.example/n?g=${GDPR}',
      adm: '<img src="https://dsp.example/i?gc=${GDPR_CONSENT_755}"><script>var c = "${GDPR_CONSENT_755}";</script>',
    };
    assert.deepEqual(withPrivacyMacrosFilled(bid, request, 'html'), {
      burl: 'https://dsp.example/b?gc=a%22b&p=${AUCTION_PRICE}',
      nurl: 'https://dsp.example/n?g=1',
      adm: '<img src="https://dsp.example/i?gc=a&quot;b"><script>var c = "a\\u0022b";</script>',
    });
    const plain = { burl: 'https://dsp.example/b?p=${AUCTION_PRICE}', adm: '<p>ad</p>' };
    assert.equal(withPrivacyMacrosFilled(plain, request, 'html'), plain);
  });
});
