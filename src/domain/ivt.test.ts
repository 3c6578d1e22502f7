import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HitRequest } from './hit-request.js';
import { buildIvtFilter, defaultIvtFilter } from './ivt-filter.js';
import { MAX_USER_AGENT_BYTES, readDevice } from './read-device.js';
import { screenRequest } from './ivt.js';
import { hitRequest } from '../../test/support/hit-requests.js';
import { CHROME } from '../../test/support/user-agents.js';

const BOT = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' };

function screen(req: HitRequest, filter = defaultIvtFilter()) {
  return screenRequest(req, readDevice(req), filter);
}

function filterOf(patterns: string[], cidrs: string[]) {
  const built = buildIvtFilter(patterns, cidrs);
  assert.ok(built.ok, JSON.stringify(built));
  return built.filter;
}

describe('invalid traffic', () => {
  it('passes an ordinary browser request', () => {
    assert.equal(screen(hitRequest()), undefined);
  });

  it('rejects HEAD requests', () => {
    assert.deepEqual(screen(hitRequest({}, 'HEAD')), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'head_request',
    });
  });

  for (const [name, value] of [
    ['sec-purpose', 'prefetch'],
    ['sec-purpose', 'prefetch;prerender'],
    ['purpose', 'prefetch'],
    ['x-purpose', 'preview'],
    ['x-moz', 'prefetch'],
  ] as const) {
    it(`treats ${name}: ${value} as prefetch`, () => {
      assert.deepEqual(screen(hitRequest({ [name]: value })), { outcome: 'not_counted', reason: 'prefetch' });
    });
  }

  for (const [name, value] of [
    ['sec-purpose', 'prerender'],
    ['purpose', 'instant'],
  ] as const) {
    it(`treats ${name}: ${value} as prefetch`, () => {
      assert.deepEqual(screen(hitRequest({ [name]: value })), { outcome: 'not_counted', reason: 'prefetch' });
    });
  }

  it('rejects an empty User-Agent', () => {
    assert.deepEqual(screen(hitRequest({ 'user-agent': '' })), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'empty_user_agent',
    });
  });

  it('takes the caller’s User-Agent as the device’s when X-Device-User-Agent names none (empty or blank), as it takes the peer when X-Device-IP names no address', () => {
    const relayed = (headers: Record<string, string>) => hitRequest({ 'user-agent': CHROME, ...headers });
    for (const named of ['', '  ']) {
      const headers = { 'x-device-user-agent': named, 'x-device-ip': named };
      assert.deepEqual(readDevice(relayed(headers)), {
        ip: '198.51.100.7',
        userAgent: CHROME,
        userAgentTooLong: false,
      });
      assert.equal(screen(relayed(headers)), undefined);
    }
    // Named, the device's agent is screened, and so is the caller's, as a relaying server's.
    const bot = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'bot_user_agent' };
    assert.equal(readDevice(relayed({ 'x-device-user-agent': 'Device/1' })).userAgent, 'Device/1');
    assert.deepEqual(screen(relayed({ 'x-device-user-agent': 'Googlebot/2.1' })), bot);
  });

  it('rejects a User-Agent longer than any browser sends, and keeps only its first 1024 bytes', () => {
    const long = `${CHROME} ${'x'.repeat(MAX_USER_AGENT_BYTES)}`;
    const tooLong = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'long_user_agent' };
    assert.deepEqual(screen(hitRequest({ 'user-agent': long })), tooLong);
    const device = readDevice(hitRequest({ 'user-agent': long }));
    assert.equal(device.userAgent, long.slice(0, MAX_USER_AGENT_BYTES));
    assert.equal(device.userAgentTooLong, true);
    // Named by a server for the device, or as the server's own agent beside the device's.
    assert.deepEqual(screen(hitRequest({ 'x-device-user-agent': long })), tooLong);
    assert.deepEqual(screen(hitRequest({ 'user-agent': long, 'x-device-user-agent': CHROME })), tooLong);
    const longest = `${CHROME} ${'x'.repeat(MAX_USER_AGENT_BYTES - CHROME.length - 1)}`;
    assert.equal(longest.length, MAX_USER_AGENT_BYTES);
    assert.equal(screen(hitRequest({ 'user-agent': longest })), undefined);
    assert.equal(readDevice(hitRequest({ 'user-agent': longest })).userAgentTooLong, false);
  });

  it('counts a User-Agent of 1024 bytes and takes one of 1025 for long_user_agent, the limit the README documents', () => {
    const agentOf = (bytes: number) => `${CHROME} ${'x'.repeat(bytes - CHROME.length - 1)}`;
    assert.equal(screen(hitRequest({ 'user-agent': agentOf(1024) })), undefined);
    assert.deepEqual(screen(hitRequest({ 'user-agent': agentOf(1025) })), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'long_user_agent',
    });
    assert.equal(readDevice(hitRequest({ 'user-agent': agentOf(1025) })).userAgent, agentOf(1024));
  });

  it('rejects known crawlers from the maintained bot list', () => {
    const bot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    assert.deepEqual(screen(hitRequest({ 'user-agent': bot })), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'bot_user_agent',
    });
  });

  it('rejects configured User-Agent patterns', () => {
    const filter = filterOf(['AcmeKiosk/\\d'], []);
    assert.deepEqual(screen(hitRequest({ 'user-agent': `${CHROME} AcmeKiosk/2` }), filter), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'blocked_user_agent',
    });
  });

  it('matches configured User-Agent patterns whatever the case', () => {
    const filter = filterOf(['acmekiosk'], []);
    assert.deepEqual(screen(hitRequest({ 'user-agent': `${CHROME} AcmeKiosk/2` }), filter), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'blocked_user_agent',
    });
  });

  it("lets every listed app and server HTTP stack through when an app or a server fires the notice, and not a browser's", () => {
    for (const userAgent of [
      'python-requests/2.31.0',
      'Python-urllib/3.11',
      'axios/1.6.0',
      'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
      'undici',
      'node',
      'python-httpx/0.27.0',
      'Python/3.11 aiohttp/3.9.1',
      'got (https://github.com/sindresorhus/got)',
      'Deno/1.40.0',
      'Bun/1.1.0',
      'Ruby',
      'Faraday v2.7.4',
      'GuzzleHttp/7',
      'reqwest/0.11',
      'Java/17.0.1',
      'libcurl/7.8',
    ]) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.equal(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), undefined, userAgent);
      assert.deepEqual(screen(req), BOT, userAgent);
    }
  });

  it("lets Apache's async HttpClient (4.x and 5.x) through as it lets Apache HttpClient: a Java server's burl, naming the device or not, but not where a browser fires the notice", () => {
    for (const userAgent of [
      'Apache-HttpAsyncClient/4.1.4 (Java/1.8.0_292)',
      'Apache-HttpAsyncClient/5.2.1 (Java/17.0.8)',
    ]) {
      const fired = hitRequest({ 'user-agent': userAgent });
      assert.equal(screenRequest(fired, readDevice(fired), defaultIvtFilter(), 'app'), undefined, userAgent);
      assert.deepEqual(screen(fired), BOT, userAgent);
      const relayed = hitRequest({ 'user-agent': userAgent, 'x-device-user-agent': CHROME });
      for (const notifier of ['browser', 'app'] as const) {
        const outcome = screenRequest(relayed, readDevice(relayed), defaultIvtFilter(), notifier);
        assert.equal(outcome, undefined, `${userAgent} relaying for a ${notifier}`);
      }
    }
  });

  /**
   * How a notice fired with `userAgent` is judged: fired by it for an app and for a browser, and
   * relaying a browser's notice (naming the device in X-Device-User-Agent) for each.
   */
  function verdicts(userAgent: string) {
    const fired = hitRequest({ 'user-agent': userAgent });
    const relayed = hitRequest({ 'user-agent': userAgent, 'x-device-user-agent': CHROME });
    const judge = (req: HitRequest, notifier: 'browser' | 'app') =>
      screenRequest(req, readDevice(req), defaultIvtFilter(), notifier);
    return {
      app: judge(fired, 'app'),
      browser: judge(fired, 'browser'),
      relayingForApp: judge(relayed, 'app'),
      relayingForBrowser: judge(relayed, 'browser'),
    };
  }

  const SERVER_STACK = {
    app: undefined,
    browser: BOT,
    relayingForApp: undefined,
    relayingForBrowser: undefined,
  };

  /** Each agent's verdicts beside what a server's HTTP stack should get, for a diff naming them all. */
  function assertServerStacks(userAgents: readonly string[]) {
    assert.deepEqual(
      Object.fromEntries(userAgents.map((userAgent) => [userAgent, verdicts(userAgent)])),
      Object.fromEntries(userAgents.map((userAgent) => [userAgent, SERVER_STACK])),
    );
  }

  /**
   * Each of `apps`, an app's own agent the bot list flags, passes where an app fires the notice;
   * each of `robots`, the same shape declaring a robot, does not.
   */
  function assertAppAgents(apps: readonly string[], robots: readonly string[]) {
    for (const userAgent of apps) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.deepEqual(screen(req), BOT, `the bot list flags ${userAgent}`);
      assert.equal(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), undefined, userAgent);
    }
    for (const userAgent of robots) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.deepEqual(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), BOT, userAgent);
    }
  }

  it("lets the JVM's server HTTP clients through, by the agent each sends by default, as it lets Apache HttpClient: a server's burl, naming the device or not, but not where a browser fires the notice", () => {
    assertServerStacks([
      'ReactorNetty/1.1.10', // Reactor Netty, Spring WebClient's default connector
      'Ktor client', // Ktor's engines, without the UserAgent plugin
      'Ktor http-client', // Ktor's UserAgent plugin
      'Vert.x-WebClient/4.4.0',
      'AHC/2.1', // AsyncHttpClient 2.x (Play WS)
      'Jetty/12.0.5',
      'Jakarta Commons-HttpClient/3.1',
      'akka-http/10.2.9',
      'pekko-http/1.0.0',
    ]);
  });

  it("lets PHP's Symfony HttpClient, .NET's RestSharp and Go's resty through by their default agents as server HTTP stacks, and not where a browser fires the notice", () => {
    assertServerStacks([
      'Symfony HttpClient/Curl',
      'Symfony HttpClient/Native',
      'Symfony HttpClient (Native)',
      'Symfony HttpClient/Amp',
      'RestSharp/110.2.0.0',
      'go-resty/2.11.0 (https://github.com/go-resty/resty)',
      'go-resty/3.0.0 (https://resty.dev)',
    ]);
  });

  it("lets Elixir's hackney, Mint (under Finch) and Req through by their default agents as server HTTP stacks, and not where a browser fires the notice", () => {
    assertServerStacks(['hackney/1.20.1', 'mint/1.6.2', 'req/0.5.15']);
  });

  it("lets Perl's LWP, HTTP::Tiny and Mojo::UserAgent through by their default agents as server HTTP stacks (LWP's robot class names the robot instead), and not where a browser fires the notice", () => {
    assertServerStacks(['libwww-perl/6.72', 'HTTP-Tiny/0.088', 'Mojolicious (Perl)']);
  });

  it("takes no crawler for Ruby's Net::HTTP or curl by the stack's name alone: only their own agents, `Ruby` and `curl/…`, pass as server stacks", () => {
    for (const userAgent of ['Ruby, Twurly v1.1 (http://twurly.org)', 'CURL (Link validity checker)']) {
      assert.deepEqual(verdicts(userAgent), {
        app: BOT,
        browser: BOT,
        relayingForApp: BOT,
        relayingForBrowser: BOT,
      });
    }
    assertServerStacks(['Ruby', 'curl/8.4.0']);
  });

  it('lets Android, Apple and CTV players and stacks the bot list flags through when an app fires the notice, and not a browser', () => {
    for (const userAgent of ['Lavf/58.29.100', 'AppleTV6,2/11.1', 'Dalvik/2.1.0', 'stagefright/1.2']) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.equal(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), undefined, userAgent);
    }
    for (const userAgent of ['Lavf/58.29.100', 'AppleTV6,2/11.1', 'Dalvik/2.1.0']) {
      assert.deepEqual(screen(hitRequest({ 'user-agent': userAgent })), BOT, userAgent);
    }
  });

  it("judges an iOS app's own User-Agent by its stack, not by the words of the app's name", () => {
    const iosApps = [
      'Yahoo%20News/104.0 CFNetwork/1410.0.3 Darwin/22.6.0',
      'Daily News/5.2 (iPhone; iOS 17.1; Scale/3.00)',
      'Feed Reader/1.0 (com.example.feeds; build:42; iOS 16.4.1) Alamofire/5.6.4',
    ];
    assertAppAgents(iosApps, ['NewsBot/1.0 CFNetwork/1410.0.3 Darwin/22.6.0']);
  });

  it('takes no robot from an app whose name only begins with the letters bot (Botim, Bottle Flip): a robot declares bot at the end of a word', () => {
    assertAppAgents(
      [
        'Botim/5.3.0 CFNetwork/1568.200.51 Darwin/24.1.0',
        'BottleFlip3D/1.96 CFNetwork/1568.200.51 Darwin/24.1.0',
        'Bottle Flip/2.1 (Linux;Android 14) ExoPlayerLib/2.19.1',
      ],
      [
        'NewsBot/1.0 CFNetwork/1568.200.51 Darwin/24.1.0',
        'Bot/1.0 CFNetwork/1568.200.51 Darwin/24.1.0',
        'Slackbot/1.0 (iPhone; iOS 17.1; Scale/3.00)',
      ],
    );
  });

  it('takes no robot from an app or a phone whose name only begins with spider or crawl (Spider Solitaire, Spider-Man, GLX Spider): a robot names itself with the word inside or ending a name, or as a crawler', () => {
    assertAppAgents(
      [
        'Dalvik/2.1.0 (Linux; U; Android 14; Spider Solitaire Build/UQ1A.240205.004)',
        'SpiderSolitaire/3.1 CFNetwork/1408.0.4 Darwin/22.5.0',
        'Spider-Man Unlimited/4.6 (iPhone; iOS 17.1; Scale/3.00)',
        'Dalvik/1.6.0 (Linux; U; Android 4.4.2; GLX Spider Build/KOT49H)',
        'CrawlQuest/1.2 (Linux;Android 14) ExoPlayerLib/2.19.1',
        'Crawl Space/2.0 CFNetwork/1408.0.4 Darwin/22.5.0',
      ],
      [
        'okhttp/4.12.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)',
        'okhttp/4.12.0 (compatible; Baiduspider-render/2.0; +http://www.baidu.com/search/spider.html)',
        'Dalvik/2.1.0 (Linux; U; Android 14; SM-S918B Build/UP1A) 360Spider',
        'okhttp/4.12.0 (compatible; Bytespider; spider-feedback@bytedance.com)',
        'Java/17.0.2 Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)',
        'Screaming Frog SEO Spider/19.0 CFNetwork/1408.0.4 Darwin/22.5.0',
        'Java/1.8.0_392 crawler4j (https://github.com/yasserg/crawler4j/)',
        'Go-http-client/1.1 (compatible; OnCrawl/1.0; +http://www.oncrawl.com)',
        'okhttp/4.12.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)',
        'okhttp/4.12.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
        'okhttp/4.12.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)',
        'Dungeon Crawler/1.0 CFNetwork/1408.0.4 Darwin/22.5.0',
      ],
    );
  });

  it('takes a robot from an app stack saying it is crawling, in its name or its link (Nutch, DMCA.com, heritrix, Google-Agent): no app or phone is named so', () => {
    assertAppAgents(
      [
        'CrawlQuest/1.2 (Linux;Android 14) ExoPlayerLib/2.19.1',
        'Crawl Space/2.0 CFNetwork/1408.0.4 Darwin/22.5.0',
      ],
      [
        'Go-http-client/1.1 (compatible; Nutch-1.20; Crawling agent for presearch.com index)',
        'okhttp/4.12.0 (DMCA.com Page Protection Crawling Service)',
        'Java/1.8.0_392 (compatible; heritrix/1.5.0 http://www.l3s.de/kohlschuetter/projects/crawling/)',
        'okhttp/4.12.0 (compatible; GoogleAgent-Search; +https://developers.google.com/search/docs/crawling-indexing/google-agent-search)',
        'python-requests/2.31.0 (HubPages V0.2.2; +http://hubpages.com/help/crawlingpolicy)',
      ],
    );
  });

  it("judges an Android app's player agent, as ExoPlayer and Media3 write it, by its stack, not by the words of the app's name", () => {
    // Util.getUserAgent(context, appName) of ExoPlayer and of Media3: the app's name and version,
    // then `(Linux;Android <release>)` and the library.
    const androidApps = [
      'BBC News/6.1.0 (Linux;Android 13) ExoPlayerLib/2.18.1',
      'Google TV/4.38.1 (Linux;Android 12) AndroidXMedia3/1.1.1',
      'com.feedly.app/105.0 (Linux;Android 14) ExoPlayerLib/2.19.1',
    ];
    assertAppAgents(androidApps, [
      'NewsBot/1.0 (Linux;Android 13) ExoPlayerLib/2.18.1',
      'Feed Crawler/2.0 (Linux;Android 13) AndroidXMedia3/1.1.1',
      'Googlebot/2.1 (+http://www.google.com/bot.html) (Linux;Android 13) ExoPlayerLib/2.18.1',
      'HeadlessChrome/1 (Linux;Android 13) ExoPlayerLib/2.18.1',
      'Mediapartners-Google/1 (Linux;Android 13) AndroidXMedia3/1.1.1',
    ]);
  });

  it("judges an Android app's own agent as Cronet writes it by that stack, not by the words of the app's package name", () => {
    // Cronet's default User-Agent: the package name and version, then
    // `(Linux; U; Android <release>; <locale>; <model> Build/<id>; Cronet/<version>)`.
    const androidApps = [
      'com.bbc.news/12345 (Linux; U; Android 13; en-us; Pixel 7 Build/TQ3A.230805.001; Cronet/116.0.5845.92)',
      'com.newsbreak.app/24.3.1 (Linux; U; Android 12; en_US; SM-G991B Build/SP1A.210812.016; Cronet/114.0.5735.196)',
    ];
    assertAppAgents(androidApps, [
      'com.example.newsbot/1.0 (Linux; U; Android 13; en-us; Pixel 7 Build/TQ3A; Cronet/116.0.5845.92)',
      'Googlebot/2.1 (Linux; U; Android 13; en-us; Pixel 7 Build/TQ3A; Cronet/116.0.5845.92)',
      'com.bbc.news/12345 (Linux; U; Android 13; en-us; Pixel 7 Build/TQ3A; Cronet/116.0) Feed Fetcher',
    ]);
  });

  it("judges an Android app's agent as the platform's HttpEngine (Android 14's Cronet) writes it, AndroidHttpClient and no package name, by that stack", () => {
    // android.net.http.HttpEngine's default User-Agent: `AndroidHttpClient (Linux; U; Android
    // <release>; <locale>; <model>; Build/<id>; Cronet/<version>)`.
    assertAppAgents(
      [
        'AndroidHttpClient (Linux; U; Android 14; en_US; Pixel 8; Build/UQ1A.240205.004; Cronet/114.0.5735.84)',
      ],
      [
        'AndroidHttpClient (Linux; U; Android 14; en_US; Pixel 8; Build/UQ1A; Cronet/114.0) Crawler',
        'AndroidHttpClient (Linux; U; Android 14; en_US; Spider 8; Build/UQ1A; Cronet/114.0.5735.84)',
      ],
    );
  });

  it('takes an app HTTP stack only when the User-Agent starts with it: a crawler naming one later is a bot', () => {
    const req = hitRequest({ 'user-agent': 'Mozilla/5.0 (Java) outbrain' });
    assert.deepEqual(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), {
      outcome: 'not_counted',
      reason: 'invalid_traffic',
      rule: 'bot_user_agent',
    });
  });

  it('rejects addresses inside blocked IPv4 and IPv6 ranges and passes those outside', () => {
    const filter = filterOf([], ['203.0.113.0/24', '2001:db8::/32', '192.0.2.1']);
    const blocked = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'blocked_ip' };
    assert.deepEqual(screen(hitRequest({}, 'GET', '203.0.113.99'), filter), blocked);
    assert.deepEqual(screen(hitRequest({}, 'GET', '::ffff:203.0.113.5'), filter), blocked);
    assert.deepEqual(screen(hitRequest({}, 'GET', '2001:db8:1::5'), filter), blocked);
    assert.deepEqual(screen(hitRequest({}, 'GET', '192.0.2.1'), filter), blocked);
    assert.equal(screen(hitRequest({}, 'GET', '203.0.114.1'), filter), undefined);
    assert.equal(screen(hitRequest({}, 'GET', '2001:db9::1'), filter), undefined);
  });

  it('judges a server-to-server notice by the device it names in X-Device-IP and X-Device-User-Agent', () => {
    const filter = filterOf([], ['203.0.113.0/24']);
    const relayed = { 'user-agent': 'SSAI-Stitcher/1.0', 'x-device-user-agent': CHROME };
    const req = hitRequest({ ...relayed, 'x-device-ip': '203.0.113.8' });
    assert.deepEqual(readDevice(req), {
      ip: '203.0.113.8',
      userAgent: CHROME,
      userAgentTooLong: false,
    });
    assert.deepEqual(screen(req, filter), { ...BOT, rule: 'blocked_ip' });
    // The same notice for a device outside the blocked range counts: it is the device's address
    // that was judged, not the notice's being relayed.
    const allowed = hitRequest({ ...relayed, 'x-device-ip': '198.51.100.9' });
    assert.equal(screen(allowed, filter), undefined);
  });

  it('judges a notifier that names a device in X-Device-User-Agent on its own agent as well: a crawler cannot count by naming a browser', () => {
    for (const userAgent of [
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
      'curl/8.0 (compatible; MyCrawler/1.0)',
      'Wget/1.21.4',
      'facebookexternalhit/1.1',
      'Scrapy/2.11 (+https://scrapy.org)',
    ]) {
      const req = hitRequest({ 'user-agent': userAgent, 'x-device-user-agent': CHROME });
      for (const notifier of ['browser', 'app'] as const) {
        assert.deepEqual(screenRequest(req, readDevice(req), defaultIvtFilter(), notifier), BOT, userAgent);
      }
    }
    const blocked = hitRequest({ 'user-agent': 'AcmeStitcher/2', 'x-device-user-agent': CHROME });
    assert.deepEqual(screen(blocked, filterOf(['acmestitcher'], [])), { ...BOT, rule: 'blocked_user_agent' });
  });

  it("passes a server-side ad inserter's own agent, whatever its name, when the device it names passes", () => {
    for (const userAgent of [
      'SSAI-Stitcher/1.0',
      'Go-http-client/1.1',
      'python-requests/2.31.0',
      '',
      'Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
    ]) {
      const req = hitRequest({
        'user-agent': userAgent,
        'x-device-user-agent': CHROME,
        'x-device-ip': '198.51.100.7',
      });
      assert.equal(screen(req), undefined, userAgent);
    }
  });

  it('still rejects a blocked peer that names another device in X-Forwarded-For or X-Device-IP', () => {
    const filter = filterOf([], ['203.0.113.0/24']);
    for (const header of ['x-forwarded-for', 'x-device-ip']) {
      const req = hitRequest({ [header]: '198.51.100.1' }, 'GET', '203.0.113.9');
      assert.deepEqual(screen(req, filter), {
        outcome: 'not_counted',
        reason: 'invalid_traffic',
        rule: 'blocked_ip',
      });
    }
  });

  it('rejects a blocked address at any X-Forwarded-For hop: behind a proxy, the client it saw is the last one', () => {
    const filter = filterOf([], ['203.0.113.0/24', '2001:db8::/32']);
    const proxy = '10.0.0.2';
    for (const forwarded of [
      '198.51.100.1, 203.0.113.9',
      '198.51.100.1,10.0.0.7, 2001:db8::5',
      '203.0.113.9',
    ]) {
      const req = hitRequest({ 'x-forwarded-for': forwarded }, 'GET', proxy);
      assert.deepEqual(screen(req, filter), {
        outcome: 'not_counted',
        reason: 'invalid_traffic',
        rule: 'blocked_ip',
      });
    }
    assert.equal(
      screen(hitRequest({ 'x-forwarded-for': '198.51.100.1, 192.0.2.8' }, 'GET', proxy), filter),
      undefined,
    );
  });

  it('counts an SSAI server on a blocked (data-centre) range once it is a trusted notifier, judging the device it names', () => {
    const built = buildIvtFilter([], ['203.0.113.0/24', '10.0.0.0/8'], ['203.0.113.9', '10.0.0.0/24']);
    assert.ok(built.ok, JSON.stringify(built));
    const filter = built.filter;
    const ssai = (headers: Record<string, string>, peer = '203.0.113.9') =>
      screen(hitRequest({ 'user-agent': 'Go-http-client/1.1', ...headers }, 'GET', peer), filter);
    const device = { 'x-device-ip': '198.51.100.1', 'x-device-user-agent': CHROME };
    assert.equal(ssai(device), undefined);
    // Behind Tally's own load balancer (trusted too), which appends the SSAI server as a hop.
    assert.equal(ssai({ ...device, 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }, '10.0.0.2'), undefined);
    const blocked = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'blocked_ip' };
    // The device it names is still screened, and so is a hop that is not trusted.
    assert.deepEqual(ssai({ ...device, 'x-device-ip': '203.0.113.50' }), blocked);
    assert.deepEqual(ssai({ ...device, 'x-forwarded-for': '198.51.100.1, 203.0.113.77' }), blocked);
    // A peer on the range but not trusted is screened as before.
    assert.deepEqual(ssai(device, '203.0.113.10'), blocked);
    // A trusted server that names no device is its own device, and screened as one.
    assert.deepEqual(ssai({ 'user-agent': CHROME }), blocked);
  });

  it('screens the last 16 X-Forwarded-For hops, where proxies append, not the thousands a client may write before them', () => {
    const filter = filterOf([], ['203.0.113.0/24']);
    const proxy = '10.0.0.2';
    // A head of 16 KiB holds some two thousand hops, each a look-up in the block list.
    const written = Array.from({ length: 2000 }, (_, index) => `198.51.${index % 250}.${index % 200}`);
    const blocked = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'blocked_ip' };
    const screened = (hops: string[]) =>
      screen(hitRequest({ 'x-forwarded-for': hops.join(', ') }, 'GET', proxy), filter);
    // (The first hop is the device, from a peer not trusted, and screened as such.)
    assert.equal(screened(['198.51.100.1', '203.0.113.9', ...written]), undefined, 'a hop the client wrote');
    assert.equal(screened([...written.slice(0, 1984), '203.0.113.9', ...written.slice(0, 16)]), undefined);
    assert.deepEqual(screened(['203.0.113.9', ...written]), blocked, 'the device, the first hop');
    assert.deepEqual(
      screened([...written, '203.0.113.9', ...written.slice(0, 15)]),
      blocked,
      '16th from the end',
    );
    assert.deepEqual(screened([...written, '203.0.113.9']), blocked, 'the hop a proxy appended');
    // Behind trusted proxies, the device is the last untrusted hop among those 16.
    const built = buildIvtFilter([], [], ['10.0.0.0/24']);
    assert.ok(built.ok, built.ok ? '' : JSON.stringify(built.errors));
    const device = (hops: string[]) =>
      readDevice(hitRequest({ 'x-forwarded-for': hops.join(', ') }, 'GET', proxy), built.filter).ip;
    const trustedHops = (count: number) =>
      Array.from({ length: count }, (_, index) => `10.0.0.${index + 10}`);
    assert.equal(device([...written, '192.0.2.8', ...trustedHops(15)]), '192.0.2.8');
    assert.equal(
      device([...written, '192.0.2.8', ...trustedHops(16)]),
      proxy,
      'past 16 hops, the peer itself',
    );
  });

  it('screens an X-Forwarded-For of one hop as that address whole, not a shorter one', () => {
    const filter = filterOf([], ['192.0.2.1/32']);
    const req = hitRequest({ 'x-forwarded-for': '192.0.2.12' }, 'GET', '10.0.0.2');
    assert.equal(screen(req, filter), undefined, '192.0.2.12 is not the blocked 192.0.2.1');
  });

  it('screens and reads an X-Forwarded-For address written with a port, as some proxies write it', () => {
    const filter = filterOf([], ['203.0.113.0/24', '2001:db8::/32']);
    for (const forwarded of ['203.0.113.9:5555', '198.51.100.1, 203.0.113.9:5555', '[2001:db8::5]:443']) {
      assert.deepEqual(
        screen(hitRequest({ 'x-forwarded-for': forwarded }, 'GET', '10.0.0.2'), filter),
        { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'blocked_ip' },
        forwarded,
      );
    }
    assert.equal(readDevice(hitRequest({ 'x-forwarded-for': '192.0.2.8:5555' })).ip, '192.0.2.8');
    assert.equal(readDevice(hitRequest({ 'x-forwarded-for': '[2001:db8::7]' })).ip, '2001:db8::7');
    // Not an address with a port: the peer stays the device.
    for (const odd of [
      '192.0.2.8:',
      '192.0.2.8:123456',
      '192.0.2.8:65536',
      '[192.0.2.8]:80',
      '[::1]:99999',
      'host:80',
    ]) {
      assert.equal(readDevice(hitRequest({ 'x-forwarded-for': odd }, 'GET', '10.0.0.3')).ip, '10.0.0.3', odd);
    }
  });

  it('treats a prefetch signal as prefetch whatever its case', () => {
    for (const [name, value] of [
      ['sec-purpose', 'Prefetch'],
      ['x-moz', 'PREFETCH'],
      ['purpose', 'Prerender'],
    ] as const) {
      assert.deepEqual(
        screen(hitRequest({ [name]: value })),
        { outcome: 'not_counted', reason: 'prefetch' },
        `${name}: ${value}`,
      );
    }
  });

  it('takes an app HTTP stack only by its whole name: an agent that merely starts with the same letters is a bot', () => {
    for (const userAgent of ['Javaland/1.0', 'curlew-scanner/1.0', 'okhttpx/1.0']) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.deepEqual(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), BOT, userAgent);
    }
  });

  it('rejects an app HTTP stack that declares itself a spider or Slurp, even where an app fires the notice', () => {
    for (const userAgent of ['okhttp/4.12.0 (compatible; Spider)', 'okhttp/4.12.0 Slurp']) {
      const req = hitRequest({ 'user-agent': userAgent });
      assert.deepEqual(screenRequest(req, readDevice(req), defaultIvtFilter(), 'app'), BOT, userAgent);
    }
  });

  it('reads block-list entries with spaces around them', () => {
    const filter = filterOf([], [' 203.0.113.0/24 ', '\t2001:db8::/32']);
    const blocked = { outcome: 'not_counted', reason: 'invalid_traffic', rule: 'blocked_ip' };
    assert.deepEqual(screen(hitRequest({}, 'GET', '203.0.113.99'), filter), blocked);
    assert.deepEqual(screen(hitRequest({}, 'GET', '2001:db8:1::5'), filter), blocked);
  });

  it('names the first rule that matches, in order: HEAD, prefetch, empty, bot and blocked User-Agents, then blocked addresses', () => {
    const filter = filterOf(['AcmeKiosk'], ['203.0.113.0/24']);
    const rule = (req: HitRequest) => {
      const outcome = screen(req, filter);
      return outcome?.outcome === 'not_counted'
        ? outcome.reason === 'invalid_traffic'
          ? outcome.rule
          : outcome.reason
        : 'counted';
    };
    const blockedPeer = '203.0.113.9';
    assert.equal(rule(hitRequest({ 'sec-purpose': 'prefetch' }, 'HEAD', blockedPeer)), 'head_request');
    assert.equal(
      rule(hitRequest({ 'sec-purpose': 'prefetch', 'user-agent': '' }, 'GET', blockedPeer)),
      'prefetch',
    );
    assert.equal(rule(hitRequest({ 'user-agent': '' }, 'GET', blockedPeer)), 'empty_user_agent');
    assert.equal(
      rule(hitRequest({ 'user-agent': 'Googlebot/2.1 AcmeKiosk' }, 'GET', blockedPeer)),
      'bot_user_agent',
    );
    assert.equal(
      rule(hitRequest({ 'user-agent': `${CHROME} AcmeKiosk/2` }, 'GET', blockedPeer)),
      'blocked_user_agent',
    );
    assert.equal(
      rule(hitRequest({ 'user-agent': `${CHROME} AcmeKiosk/2`, 'x-device-ip': '203.0.113.10' })),
      'blocked_user_agent',
    );
    assert.equal(rule(hitRequest({}, 'GET', blockedPeer)), 'blocked_ip');
  });
});
