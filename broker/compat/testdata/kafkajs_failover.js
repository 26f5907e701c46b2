// Produces GREGOR_RECORDS records "before-i" to GREGOR_TOPIC (partition 0) with acks=-1, one send
// per record, printing "ACKED <value>" for each acknowledged one; prints READY and waits for a line
// on stdin (the test kills the partition's leader meanwhile); then produces "after-i" the same way
// and prints DONE. A send that fails after kafkajs' retries exits non-zero.
const { Kafka, logLevel } = require('kafkajs');
const readline = require('readline');

const brokers = process.env.GREGOR_BROKERS.split(',');
const topic = process.env.GREGOR_TOPIC;
const n = parseInt(process.env.GREGOR_RECORDS, 10);

const kafka = new Kafka({
  clientId: 'gregor-failover',
  brokers,
  logLevel: logLevel.ERROR,
  connectionTimeout: 2000,
  requestTimeout: 10000,
  retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
});
const producer = kafka.producer({ metadataMaxAge: 1000, allowAutoTopicCreation: false });

async function phase(prefix) {
  for (let i = 0; i < n; i++) {
    const value = `${prefix}-${i}`;
    await producer.send({ topic, acks: -1, timeout: 10000, messages: [{ partition: 0, key: value, value }] });
    console.log(`ACKED ${value}`);
  }
}

function nextLine() {
  const rl = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => rl.once('line', () => { rl.close(); resolve(); }));
}

(async () => {
  await producer.connect();
  await phase('before');
  console.log('READY');
  await nextLine();
  await phase('after');
  console.log('DONE');
  // NB: disconnect may wait on the killed broker's connection; every record is acknowledged already.
  await Promise.race([producer.disconnect(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  process.exit(0);
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
