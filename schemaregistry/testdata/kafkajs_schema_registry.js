// Drives the registry at GREGOR_REGISTRY with @kafkajs/confluent-schema-registry: registers and
// evolves an Avro schema, encodes and decodes a record through it, looks the schema up, has an
// incompatible change refused, registers JSON Schema and Protobuf schemas, and deletes (the library
// has no delete call: those go through fetch, as its users do). Prints one JSON object of results.
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const host = process.env.GREGOR_REGISTRY
const registry = new SchemaRegistry({ host })
const subject = 'payments-value'

const v1 = { type: 'record', name: 'Payment', namespace: 'js', fields: [{ name: 'id', type: 'string' }] }
const v2 = { ...v1, fields: [...v1.fields, { name: 'amount', type: 'double', default: 0 }] }
const bad = { ...v1, fields: [...v1.fields, { name: 'currency', type: 'string' }] }

async function main() {
  const out = {}
  out.id1 = (await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject })).id
  out.id1Again = (await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject })).id
  out.id2 = (await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject })).id
  const encoded = await registry.encode(out.id2, { id: 'p-1', amount: 12.5 })
  out.frame = Array.from(encoded.subarray(0, 5))
  out.decoded = await registry.decode(encoded)
  out.latest = await registry.getLatestSchemaId(subject)
  out.byVersion = await registry.getRegistryId(subject, 1)
  out.bySchema = await registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(v2) })
  try {
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(bad) }, { subject })
    out.incompatible = 'accepted'
  } catch (e) {
    out.incompatible = { name: e.name, message: e.message }
  }
  const json = { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] }
  out.jsonId = (await registry.register({ type: SchemaType.JSON, schema: JSON.stringify(json) }, { subject: 'items-value' })).id
  const jsonEncoded = await registry.encode(out.jsonId, { sku: 'A-1' })
  out.jsonDecoded = await registry.decode(jsonEncoded)
  const proto = 'syntax = "proto3";\npackage js;\nmessage Order { string id = 1; int64 qty = 2; }\n'
  out.protoId = (await registry.register({ type: SchemaType.PROTOBUF, schema: proto }, { subject: 'orders-value' })).id
  const protoEncoded = await registry.encode(out.protoId, { id: 'o-1', qty: 3 })
  out.protoDecoded = await registry.decode(protoEncoded)
  const del = async (path) => {
    const r = await fetch(host + path, { method: 'DELETE' })
    return { status: r.status, body: await r.json() }
  }
  out.softDelete = await del('/subjects/' + subject)
  out.hardDelete = await del('/subjects/' + subject + '?permanent=true')
  out.subjects = await (await fetch(host + '/subjects')).json()
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
