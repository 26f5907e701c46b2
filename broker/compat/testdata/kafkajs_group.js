// kafkajs consumer group against a Gregor broker, run by groups_kafkajs_test.go:
//   GREGOR_BROKER=127.0.0.1:port GROUP=g TOPIC=t EXPECT=n NODE_PATH=<repo>/.ci/node_modules node kafkajs_group.js
//
// One member joins GROUP (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetFetch), subscribes
// to TOPIC from the beginning and consumes with eachMessage and auto-commit (OffsetCommit after each
// batch). Once EXPECT messages have arrived it waits SETTLE_MS more for any extra, disconnects
// (LeaveGroup) and prints every message it received as JSON on stdout. The Go
// test checks them: which records, none twice, and, on a rejoin, none from before the commit.
// A failure exits non-zero with the stack on stderr.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const broker = process.env.GREGOR_BROKER
const groupId = process.env.GROUP
const topic = process.env.TOPIC
const expect = Number(process.env.EXPECT)
const settleMs = Number(process.env.SETTLE_MS || 500)
if (!broker || !groupId || !topic || !(expect > 0)) {
  throw new Error('GREGOR_BROKER, GROUP, TOPIC and EXPECT must be set')
}

async function main() {
  const kafka = new Kafka({
    clientId: 'gregor-compat',
    brokers: [broker],
    logLevel: logLevel.WARN,
    retry: { retries: 5, initialRetryTime: 100 },
  })
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
    retry: { retries: 5, initialRetryTime: 100 },
  })
  const received = []
  let resolveDone
  const done = new Promise(resolve => { resolveDone = resolve })
  const events = []
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const { memberId, leaderId, isLeader, memberAssignment, groupProtocol } = e.payload
    events.push({ memberId, leaderId, isLeader, assignment: memberAssignment, protocol: groupProtocol })
  })
  let crashed = null
  consumer.on(consumer.events.CRASH, e => {
    crashed = e.payload.error
    resolveDone()
  })

  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: true,
      eachMessage: async ({ topic: t, partition, message }) => {
        received.push({
          topic: t,
          partition,
          offset: Number(message.offset),
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
        })
        if (received.length === expect) resolveDone()
      },
    })
    const timer = setTimeout(resolveDone, 30000)
    await done
    clearTimeout(timer)
    if (crashed) throw crashed
    await new Promise(resolve => setTimeout(resolve, settleMs))
  } finally {
    await consumer.disconnect()
  }
  if (crashed) throw crashed
  process.stdout.write(JSON.stringify({ received, joins: events }) + '\n')
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
