// Drives the softphone in Chromium for sipedge's end-to-end tests:
//   node e2e.mjs PAGE_URL SHOT_DIR agent|contact|close
// Waits for the incoming call, answers, and then either clicks "End call"
// after a second of talk (agent), waits for the PBX to hang up (contact),
// or closes the tab after a second (close). Screenshots: SHOT_DIR/in-call.png and SHOT_DIR/ended.png.
// Exit 0 with the final status on stdout, 1 on any failure.
import { chromium } from 'playwright-core';

const [, , url, shots, mode] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--ignore-certificate-errors',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const state = (s) => `document.getElementById('status').dataset.state === '${s}'`;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page: ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(state('registered'), null, { timeout: 30000 });
  console.log('REGISTERED');
  await page.waitForFunction(state('incoming'), null, { timeout: 30000 });
  // A click that lands while the page is still laying out is lost: click
  // until the page says it is answering (at most three times).
  for (let i = 0; ; i++) {
    await page.click('#answer');
    try {
      await page.waitForFunction(`${state('answering')} || ${state('in-call')}`, null, { timeout: 3000 });
      break;
    } catch (e) {
      if (i === 2) throw e;
      console.error('e2e: the answer click was not taken; clicking again');
    }
  }
  await page.waitForFunction(state('in-call'), null, { timeout: 30000 });
  await page.screenshot({ path: `${shots}/in-call.png` });
  console.log('IN_CALL');
  if (mode === 'close') {
    // The agent closes the tab mid-call: no BYE from the browser.
    await page.waitForTimeout(1000); // the talk time
    await page.close();
    console.log('CLOSED');
    await browser.close();
    process.exit(0);
  }
  if (mode === 'agent') {
    await page.waitForTimeout(1000); // the talk time
    await page.click('#hangup');
  }
  await page.waitForFunction(state('ended'), null, { timeout: 30000 });
  await page.screenshot({ path: `${shots}/ended.png` });
  console.log(`ENDED ${await page.textContent('#status')}`);
  await browser.close();
} catch (e) {
  console.error(`e2e: ${e}`);
  await browser.close();
  process.exit(1);
}
