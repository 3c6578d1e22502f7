/**
 * Tally's OMID verification script, served at `/omid/verify.js`. Loaded by the ad markup with
 * `data-tally-notice="<notice URL>"`, it reports the OMID one-pixel impression: through the OM
 * SDK's verification client when one is present (`impression` event), else — for OM-enabled
 * web views that render the markup directly — when at least one pixel of the ad is in the
 * viewport (IntersectionObserver). It fires the notice once.
 */
export const OMID_VERIFICATION_SCRIPT = `(function () {
  var script = document.currentScript;
  var notice = script && script.getAttribute('data-tally-notice');
  if (!notice) return;
  var fired = false;
  function fire() {
    if (fired) return;
    fired = true;
    if (client && typeof client.sendUrl === 'function') client.sendUrl(notice);
    else new Image().src = notice;
  }
  var client = null;
  try {
    var Client = window.OmidVerificationClient && window.OmidVerificationClient[Object.keys(window.OmidVerificationClient)[0]];
    if (typeof Client === 'function') client = new Client();
  } catch (e) { client = null; }
  if (client && typeof client.isSupported === 'function' && client.isSupported()) {
    client.registerSessionObserver(function (event) {
      if (event && event.type === 'impression') fire();
    }, 'tally');
    return;
  }
  var ad = script.parentElement || document.body;
  if (typeof IntersectionObserver === 'function' && ad) {
    var observer = new IntersectionObserver(function (entries) {
      for (var i = 0; i < entries.length; i++) {
        if (entries[i].isIntersecting && entries[i].intersectionRect.width * entries[i].intersectionRect.height >= 1) {
          observer.disconnect();
          fire();
          return;
        }
      }
    }, { threshold: [0, 0.000001] });
    observer.observe(ad);
  }
})();
`;
