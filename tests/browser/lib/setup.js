'use strict';
// One application server, one hub allowing the application's origin, one
// Chromium: what most tests need.
const { startAppServer } = require('./app-server');
const { startHub } = require('./hub');
const { launch } = require('./browser');
const { makeCertificate } = require('./tls');

const RESOURCE_IDENTIFIER = 'http://hub.example.test/.well-known/mercure';

// options.tls: the application and the hub serve HTTPS with a test
// certificate (Chromium accepts it), as in production.
async function setUp(options = {}) {
  const tls = options.tls ? makeCertificate() : null;
  const resourceIdentifier = tls ? RESOURCE_IDENTIFIER.replace('http:', 'https:') : RESOURCE_IDENTIFIER;
  const app = await startAppServer({ resourceIdentifier, tls });
  let hub;
  try {
    hub = await startHub({
      corsOrigins: [app.origin],
      tls,
      args: ['--resource_identifier', resourceIdentifier, ...(options.hubArgs || [])],
    });
  } catch (e) {
    await app.close();
    throw e;
  }
  app.options.hub = hub;
  let browser = null;
  try {
    if (options.browser !== false) browser = await launch(tls ? ['--ignore-certificate-errors'] : []);
  } catch (e) {
    await app.close();
    await hub.stop();
    throw e;
  }
  return {
    app,
    hub,
    browser,
    async tearDown() {
      if (browser) await browser.close().catch(() => {});
      await app.close();
      const code = await hub.stop();
      if (tls) tls.remove();
      // The hub is built with AddressSanitizer: a leak or error report at exit
      // makes it exit non-zero.
      if (code !== 0) throw new Error(`hub exited with ${code}:\n${hub.log.slice(-4000)}`);
    },
  };
}

module.exports = { setUp, RESOURCE_IDENTIFIER };
