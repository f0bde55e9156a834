"""Drives Sluice's registry with confluent-kafka's SchemaRegistryClient (an independent client),
then round-trips an Avro record through the Confluent wire format with python3-avro.

Usage: confluent_client.py URL   -> prints one line per check and, last, WIRE <hex>.
Exits non-zero on the first failed check.
"""
import io
import json
import struct
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

url = sys.argv[1]
client = SchemaRegistryClient({"url": url})

V1 = json.dumps({"type": "record", "name": "Payment", "namespace": "shop",
                 "fields": [{"name": "id", "type": "long"},
                            {"name": "amount", "type": "double"}]})
V2 = json.dumps({"type": "record", "name": "Payment", "namespace": "shop",
                 "fields": [{"name": "id", "type": "long"},
                            {"name": "amount", "type": "double"},
                            {"name": "currency", "type": "string", "default": "EUR"}]})
BAD = json.dumps({"type": "record", "name": "Payment", "namespace": "shop",
                  "fields": [{"name": "id", "type": "long"},
                             {"name": "amount", "type": "string"}]})


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    print("ok", what)


sid = client.register_schema("payments-value", Schema(V1, "AVRO"))
check(sid >= 1, "register returns an id")
fresh = SchemaRegistryClient({"url": url})  # no cache
check(fresh.register_schema("payments-value", Schema(V1, "AVRO")) == sid, "re-register: same id")
fetched = SchemaRegistryClient({"url": url}).get_schema(sid)  # over HTTP, not cached
check(json.loads(fetched.schema_str)["name"] == "shop.Payment", "get_schema by id")
check(fetched.schema_type == "AVRO", "schema type AVRO")
check("payments-value" in fresh.get_subjects(), "get_subjects")
latest = fresh.get_latest_version("payments-value")
check(latest.schema_id == sid and latest.version == 1, "get_latest_version")
check(fresh.get_version("payments-value", 1).schema_id == sid, "get_version")
check(fresh.lookup_schema("payments-value", Schema(V1, "AVRO")).version == 1, "lookup_schema")
check(fresh.test_compatibility("payments-value", Schema(V2, "AVRO")), "compatible change")
check(not fresh.test_compatibility("payments-value", Schema(BAD, "AVRO")), "incompatible change")
try:
    fresh.register_schema("payments-value", Schema(BAD, "AVRO"))
    check(False, "incompatible register refused")
except SchemaRegistryError as e:
    check(e.http_status_code == 409 and "payments-value" in e.error_message
          and "Payment.amount" in e.error_message, "incompatible register refused: " + e.error_message)
sid2 = fresh.register_schema("payments-value", Schema(V2, "AVRO"))
check(sid2 != sid and fresh.get_versions("payments-value") == [1, 2], "second version")
check(fresh.set_compatibility("payments-value", "FULL") == {"compatibility": "FULL"},
      "set_compatibility")
check(fresh.get_compatibility("payments-value") == "FULL", "get_compatibility")
check(fresh.get_compatibility() == "BACKWARD", "global compatibility")
js = fresh.register_schema("events-value", Schema('{"type":"object","properties":{"a":{"type":"string"}}}', "JSON"))
check(fresh.get_schema(js).schema_type == "JSON", "JSON schema registered")
check(fresh.delete_subject("events-value", permanent=True) == [1], "delete_subject permanent")
fresh.register_schema("tmp-value", Schema(V1, "AVRO"))
check(fresh.delete_version("tmp-value", 1) == 1, "delete_version")
try:
    fresh.get_latest_version("nope")
    check(False, "missing subject")
except SchemaRegistryError as e:
    check(e.error_code == 40401, "missing subject is 40401")

# Avro + wire format: magic 0, big-endian id, Avro binary; decoded with the schema fetched by id.
import avro.io
import avro.schema

writer_schema = avro.schema.parse(fresh.get_schema(sid2).schema_str)
buf = io.BytesIO()
buf.write(struct.pack(">bI", 0, sid2))
avro.io.DatumWriter(writer_schema).write({"id": 7, "amount": 12.5, "currency": "SEK"},
                                         avro.io.BinaryEncoder(buf))
message = buf.getvalue()
magic, wire_id = struct.unpack(">bI", message[:5])
reader_schema = avro.schema.parse(fresh.get_schema(wire_id).schema_str)
decoded = avro.io.DatumReader(reader_schema).read(avro.io.BinaryDecoder(io.BytesIO(message[5:])))
check(magic == 0 and decoded == {"id": 7, "amount": 12.5, "currency": "SEK"}, "avro wire round trip")
print("WIRE", message.hex())
