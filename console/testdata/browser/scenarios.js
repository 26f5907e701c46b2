// Browser scenarios for the console, run by console/browser_test.go:
//   node scenarios.js http://127.0.0.1:PORT http://127.0.0.1:PORT2
// (the second a console without Kafka Connect)
// with NODE_PATH pointing at playwright-core, CHROMIUM at the browser, GREGOR_ARTIFACTS the
// screenshot directory, EXPECT_NODES/EXPECT_EDGES the topology's size. It prints one
// "PASS name" or "FAIL name: why" line per scenario, and "START_CONSUMER" when the Go test
// should start the group's consumer. Every wait is bounded.
const { chromium } = require('playwright-core');
const path = require('path');

const base = process.argv[2];
const out = process.env.GREGOR_ARTIFACTS || '.';
const shot = (page, name) => page.screenshot({ path: path.join(out, name + '.png'), fullPage: true });

async function scenario(name, page, fn) {
  try {
    await fn();
    console.log('PASS ' + name);
  } catch (e) {
    console.log('FAIL ' + name + ': ' + String(e.message || e).split('\n')[0]);
    try { await shot(page, 'failed-' + name); } catch { /* the page may be gone */ }
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => console.log('pageerror: ' + e.message));

  await scenario('overview', page, async () => {
    await page.goto(base + '/#/');
    await page.getByTestId('brokers').waitFor();
  });

  await scenario('browse-filter', page, async () => {
    await page.goto(base + '/#/topics/orders');
    await page.getByTestId('records').waitFor();
    await page.getByTestId('browse-from').selectOption('oldest');
    await page.getByTestId('filter-value').fill('plum');
    await page.getByTestId('browse-load').click();
    // 10 of the 30 orders are plums; every shown value mentions plum.
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('[data-testid=records] tbody tr');
      return rows.length === 10 && [...rows].every((r) => r.children[4].textContent.includes('"plum"'));
    });
    await page.getByTestId('filter-value').fill('');
    await page.getByTestId('filter-key').fill('order-dbz');
    await page.getByTestId('browse-load').click();
    await page.getByTestId('debezium').waitFor();
    await shot(page, 'topic-messages');
  });

  await scenario('bad-input', page, async () => {
    await page.getByTestId('filter-key').fill('');
    await page.getByTestId('browse-partition').selectOption('0');
    await page.getByTestId('browse-from').selectOption('offset');
    await page.getByTestId('browse-at').fill('99999');
    await page.getByTestId('browse-load').click();
    await page.waitForFunction(() => /offset 99999 is out of range for partition 0/.test(document.querySelector('[data-testid=messages] [data-testid=error]')?.textContent || ''));
    await shot(page, 'bad-offset');
    await page.getByTestId('browse-partition').selectOption('-1');
    await page.getByTestId('browse-from').selectOption('newest');
    await page.getByTestId('browse-at').fill('');
  });

  await scenario('produce-form', page, async () => {
    await page.getByTestId('filter-key').fill('');
    await page.getByTestId('produce-key').fill('from-the-form');
    await page.getByTestId('produce-value').fill('{"hello":"gregor","n":42}');
    await page.getByTestId('produce-headers').fill('source=console');
    await page.getByTestId('produce-submit').click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=records] tbody tr')]
      .some((r) => r.children[3].textContent === 'from-the-form' && r.children[4].textContent.includes('"hello": "gregor"')
        && r.children[5].textContent.includes('source')));
    await shot(page, 'produce');
  });

  await scenario('group-lag', page, async () => {
    await page.goto(base + '/#/groups/billing');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=group-lag]')?.textContent) > 0);
    console.log('START_CONSUMER');
    await page.waitForFunction(() => document.querySelector('[data-testid=group-lag]')?.textContent === '0', null, { timeout: 60000 });
    // Let the chart gather the fall (bounded: a few samples).
    await page.waitForFunction(() => Number(document.querySelector('svg.chart')?.dataset.points) >= 4, null, { timeout: 20000 });
    await shot(page, 'group-lag');
    // The consumer still runs: a reset is refused, saying why.
    await page.getByTestId('reset-plan-button').click();
    await page.waitForFunction(() => /can only be reset if the group 'billing' is inactive/.test(document.querySelector('[data-testid=reset-plan]')?.textContent || ''));
  });

  await scenario('connector-restart', page, async () => {
    await page.goto(base + '/#/connectors/inventory-source');
    await page.waitForFunction(() => document.querySelector('[data-testid=task-state]')?.textContent === 'FAILED');
    await shot(page, 'connector-failed');
    await page.getByTestId('action-restart').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=task-state]')?.textContent === 'RUNNING'
      && document.querySelector('[data-testid=connector-state]')?.textContent === 'RUNNING', null, { timeout: 30000 });
    await shot(page, 'connector-running');
  });

  await scenario('streams-graph', page, async () => {
    await page.goto(base + '/#/streams/order-totals');
    await page.getByTestId('topology').waitFor();
    const nodes = await page.locator('[data-testid=topology] g.node').count();
    const edges = await page.locator('[data-testid=topology] path.edge').count();
    if (nodes !== +process.env.EXPECT_NODES || edges !== +process.env.EXPECT_EDGES) {
      throw new Error(`graph has ${nodes} nodes and ${edges} edges, want ${process.env.EXPECT_NODES} and ${process.env.EXPECT_EDGES}`);
    }
    await shot(page, 'streams-topology');
  });

  await scenario('topics-page', page, async () => {
    await page.goto(base + '/#/topics');
    await page.getByTestId('topics').waitFor();
    await shot(page, 'topics');
  });

  await scenario('connect-absent', page, async () => {
    await page.goto(process.argv[3] + '/#/connectors');
    await page.waitForFunction(() => /not configured/.test(document.querySelector('[data-testid=connect-absent]')?.textContent || ''));
    await shot(page, 'connect-absent');
  });

  await scenario('overview-after', page, async () => {
    await page.goto(base + '/#/');
    await page.getByTestId('brokers').waitFor();
    await shot(page, 'overview');
  });

  await browser.close();
})().catch((e) => { console.log('FAIL setup: ' + e.message); process.exit(1); });
