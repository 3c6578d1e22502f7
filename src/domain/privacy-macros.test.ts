import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fillPrivacyMacros } from './macros.js';
import { privacyValuesOf, withPrivacyMacrosInUrls } from './privacy-macros.js';

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
    assert.deepEqual(
      privacyValuesOf({
        regs: {
          gdpr: 1,
          us_privacy: '1YNN',
          gpp: 'DBABMA~CPXxRfA',
          gpp_sid: [2],
          ext: { gdpr: 0, us_privacy: '1---', gpp: 'DBACNY~old', gpp_sid: [7] },
        },
        user: { consent: TCF, ext: { consent: 'old' } },
      } as object),
      { gdpr: '1', gdprConsent: TCF, usPrivacy: '1YNN', gppString: 'DBABMA~CPXxRfA', gppSid: '2' },
      'the 2.6 place wins over the 2.5 ext one when a request has both',
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

  it('fills a bid’s burl and nurl percent-encoded, leaves its markup to the auction macros’ pass, and hands back a bid without any as it came', () => {
    const values = privacyValuesOf({ regs: { gdpr: 1 }, user: { consent: '${AUCTION_PRICE}"' } } as object);
    const bid = {
      burl: 'https://dsp.example/b?gc=${GDPR_CONSENT_755}&p=${AUCTION_PRICE}',
      nurl: 'https://dsp.example/n?g=${GDPR}',
      adm: '<img src="https://dsp.example/i?gc=${GDPR_CONSENT_755}">',
    };
    assert.deepEqual(withPrivacyMacrosInUrls(bid, values), {
      ...bid,
      burl: 'https://dsp.example/b?gc=%24%7BAUCTION_PRICE%7D%22&p=${AUCTION_PRICE}',
      nurl: 'https://dsp.example/n?g=1',
    });
    const plain = { burl: 'https://dsp.example/b?p=${AUCTION_PRICE}', adm: '<p>${GDPR}</p>' };
    assert.equal(withPrivacyMacrosInUrls(plain, values), plain);
  });

  it('reads GPP from its OpenRTB 2.5 ext place too', () => {
    const values = privacyValuesOf({ regs: { ext: { gpp: 'DBA~1', gpp_sid: [7] } } } as object);
    assert.deepEqual([values.gppString, values.gppSid], ['DBA~1', '7']);
  });
});
