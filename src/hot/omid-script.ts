/**
 * Tally's OMID verification script, served at `/omid/verify.js`; ES5, for any web view. The ad
 * markup loads it with `data-tally-notice="<notice URL>"`; loaded as an OMID verification
 * resource, where no script element names it, it takes the notice URL from its
 * `verificationParameters` (an http(s) URL) instead. It fires the notice once:
 *
 * - With an OM SDK verification client in the page (`OmidVerificationClient`, which verification
 *   vendors compile into their scripts, and an app may load beside the ad), on the OM SDK's own
 *   `impression` event once at least one pixel of the ad is in view: at once when the integration
 *   counts on one pixel or on viewability (the event's `impressionType`, `onePixel` or `viewable`),
 *   else when the ad view of that event, or of the latest `geometryChange`, has a pixel in view (an
 *   integration counting on download, `loaded`, signals the impression of an ad rendered off
 *   screen); never on load or on the session's start alone.
 * - Without one, when at least one pixel of one of the ad's elements is inside the web view's
 *   viewport (IntersectionObserver): an element positioned on its own (out of the flow, so that
 *   `<body>` has no height) counts as much as one that fills the page.
 *
 * Without a document (a DOM-less OMID script environment) and without a client it does nothing.
 * It never throws.
 */
export const OMID_VERIFICATION_SCRIPT = `(function (root) {
  var VENDOR_KEY = 'tally';
  var MAX_OBSERVED_ELEMENTS = 200;
  var doc = typeof document === 'undefined' ? null : document;
  var script = doc && doc.currentScript;
  var notice = script ? script.getAttribute('data-tally-notice') : null;
  var fired = false;
  var impressed = false;
  var pixelInView = false;
  var client = verificationClient();
  function verificationClient() {
    try {
      var versions = root.OmidVerificationClient;
      var Client = versions && versions[Object.keys(versions)[0]];
      var found = typeof Client === 'function' ? new Client() : null;
      return found && typeof found.isSupported === 'function' && found.isSupported() ? found : null;
    } catch (e) {
      return null;
    }
  }
  function fire() {
    if (fired || !notice) return;
    fired = true;
    if (client && typeof client.sendUrl === 'function') client.sendUrl(notice);
    else if (typeof Image === 'function') new Image().src = notice;
  }
  function hasPixelInView(adView) {
    return !!adView && (adView.pixelsInView >= 1 || adView.percentageInView > 0);
  }
  function onImpression(event) {
    var data = (event && event.data) || {};
    impressed = true;
    if (data.impressionType === 'onePixel' || data.impressionType === 'viewable') pixelInView = true;
    else if (data.eventAdView) pixelInView = hasPixelInView(data.eventAdView);
    if (pixelInView) fire();
  }
  function onGeometryChange(event) {
    pixelInView = hasPixelInView(event && event.data && event.data.adView);
    if (impressed && pixelInView) fire();
  }
  function noticeFrom(parameters) {
    return typeof parameters === 'string' && /^https?:\\/\\//i.test(parameters) ? parameters : null;
  }
  if (client) {
    try {
      client.registerSessionObserver(function (event) {
        if (event && event.type === 'sessionStart' && !notice) {
          notice = noticeFrom(event.data && event.data.verificationParameters);
        }
      }, VENDOR_KEY);
      client.addEventListener('impression', onImpression);
      client.addEventListener('geometryChange', onGeometryChange);
    } catch (e) {}
    return;
  }
  if (!notice || !doc || !doc.body || typeof IntersectionObserver !== 'function') return;
  var observer = new IntersectionObserver(function (entries) {
    for (var i = 0; i < entries.length; i++) {
      var seen = entries[i].intersectionRect;
      if (entries[i].isIntersecting && seen.width * seen.height >= 1) {
        observer.disconnect();
        fire();
        return;
      }
    }
  }, { threshold: [0, 0.000001] });
  observer.observe(doc.body);
  var elements = doc.body.getElementsByTagName('*');
  for (var at = 0, observed = 0; at < elements.length && observed < MAX_OBSERVED_ELEMENTS; at++) {
    if (elements[at] === script) continue;
    observer.observe(elements[at]);
    observed++;
  }
})(typeof window === 'undefined' ? this : window);
`;
