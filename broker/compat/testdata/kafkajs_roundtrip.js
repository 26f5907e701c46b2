// kafkajs round trip against a Gregor broker, run by kafkajs_test.go:
//   GREGOR_BROKER=127.0.0.1:port NODE_PATH=<repo>/.ci/node_modules node kafkajs_roundtrip.js
// GREGOR_BROKERS (default 1) is how many brokers the cluster has: topics then have as many replicas,
// and reads that may go to a broker other than the one that forwarded an admin change are retried
// (the others learn it from the metadata log a moment later).
//
// Admin: createTopics (twice: the second must report "already exists" as false), fetchTopicMetadata,
// describeConfigs, listTopics, deleteTopics, fetchTopicOffsets. Producer: keys, null key, tombstone
// (null value), headers, explicit timestamps, a ~1 MiB value, uncompressed and gzip (the only codec
// kafkajs ships built in). Admin checks are made here; a failed one exits non-zero with a message.
//
// The script prints what it sent as JSON on stdout and the Go test reads it back with franz-go;
// kafkajs_group.js (groups_kafkajs_test.go) consumes with kafkajs itself, in a consumer group.
'use strict'

const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs')

const broker = process.env.GREGOR_BROKER
if (!broker) throw new Error('GREGOR_BROKER is not set')

const brokers = Number(process.env.GREGOR_BROKERS || '1')
const topic = 'kafkajs-data'
const scratch = 'kafkajs-scratch'
const base = 1700000000123

// eventually runs an async check once on a single broker, and on a cluster until it passes (5 s).
async function eventually(fn) {
  const deadline = Date.now() + (brokers > 1 ? 5000 : 0)
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() >= deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

function check(ok, what, got) {
  if (!ok) {
    throw new Error(`${what}: got ${JSON.stringify(got)}`)
  }
}

async function main() {
  const kafka = new Kafka({
    clientId: 'gregor-compat',
    brokers: [broker],
    logLevel: logLevel.WARN,
    retry: { retries: 3, initialRetryTime: 100 },
  })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 2,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'max.message.bytes', value: '2097152' },
          ],
        },
        { topic: scratch, numPartitions: 1 },
      ],
    })
    check(created === true, 'createTopics', created)
    const again = await admin.createTopics({ topics: [{ topic: scratch, numPartitions: 1 }] })
    check(again === false, 'createTopics of an existing topic', again)

    await eventually(async () => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] })
      check(md.topics.length === 1 && md.topics[0].name === topic, 'fetchTopicMetadata topics', md)
      const parts = md.topics[0].partitions.slice().sort((a, b) => a.partitionId - b.partitionId)
      check(parts.length === 2 && parts[0].partitionId === 0 && parts[1].partitionId === 1, 'fetchTopicMetadata partitions', parts)
      for (const p of parts) {
        check(p.partitionErrorCode === 0 && p.leader >= 0, 'partition leader', p)
        check(p.replicas.length === brokers && p.replicas.includes(p.leader) && p.isr.length === brokers &&
          p.isr.every(r => p.replicas.includes(r)), 'partition replicas/isr', p)
      }
    })

    const cfg = await eventually(async () => {
      const cfg = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
      })
      check(cfg.resources.length === 1 && cfg.resources[0].errorCode === 0, 'describeConfigs', cfg)
      return cfg
    })
    const entries = Object.fromEntries(cfg.resources[0].configEntries.map(e => [e.configName, e]))
    check(entries['retention.ms'] && entries['retention.ms'].configValue === '3600000' && !entries['retention.ms'].isDefault,
      'describeConfigs retention.ms', entries['retention.ms'])
    check(entries['cleanup.policy'] && entries['cleanup.policy'].configValue === 'delete' && entries['cleanup.policy'].isDefault,
      'describeConfigs cleanup.policy', entries['cleanup.policy'])

    await admin.deleteTopics({ topics: [scratch] })
    await eventually(async () => {
      const topics = await admin.listTopics()
      check(topics.includes(topic) && !topics.includes(scratch), 'listTopics after deleteTopics', topics)
    })

    // The records, as sent: key/value null or a string (big: a 1 MiB pattern, rebuilt by the Go test).
    const big = Buffer.alloc(1 << 20)
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26)
    const sends = [
      {
        compression: CompressionTypes.None,
        messages: [
          { partition: 0, key: 'k1', value: 'v1', headers: { h1: 'a', h2: 'b' }, timestamp: String(base) },
          { partition: 0, key: null, value: 'null-key', timestamp: String(base + 1000) },
          { partition: 0, key: 'k1', value: null, timestamp: String(base + 2000) },
          { partition: 0, key: 'big', value: big, timestamp: String(base + 3000) },
        ],
      },
      {
        compression: CompressionTypes.GZIP,
        messages: [
          { partition: 1, key: 'g1', value: 'gzipped one', headers: { trace: 'xyz' }, timestamp: String(base + 4000) },
          { partition: 1, key: null, value: null, timestamp: String(base + 5000) },
          { partition: 1, key: 'g2', value: 'gzipped two', timestamp: String(base + 6000) },
        ],
      },
    ]
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    await producer.connect()
    const sent = []
    try {
      for (const s of sends) {
        const res = await producer.send({ topic, acks: -1, compression: s.compression, messages: s.messages })
        check(res.length === 1 && res[0].errorCode === 0, 'send', res)
        let offset = Number(res[0].baseOffset)
        for (const m of s.messages) {
          sent.push({
            partition: m.partition,
            offset: offset++,
            key: m.key,
            value: m.value === big ? '<big>' : m.value,
            headers: Object.entries(m.headers || {}),
            timestamp: Number(m.timestamp),
          })
        }
      }
    } finally {
      await producer.disconnect()
    }

    const offsets = await admin.fetchTopicOffsets(topic)
    const high = Object.fromEntries(offsets.map(o => [o.partition, Number(o.high)]))
    const low = Object.fromEntries(offsets.map(o => [o.partition, Number(o.low)]))
    check(high[0] === 4 && high[1] === 3 && low[0] === 0 && low[1] === 0, 'fetchTopicOffsets', offsets)

    process.stdout.write(JSON.stringify({ topic, records: sent }) + '\n')
  } finally {
    await admin.disconnect()
  }
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
