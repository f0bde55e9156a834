#!/usr/bin/python3
"""Independent reader for the lake tests: reads an Avro file with Debian's python3-avro and
prints its header metadata, every schema field with its Iceberg field-id, and its records.

  meta <key> <value>
  field <path> <field-id or -> <required|optional>
  element <path> <element-id>
  record <json>
"""
import json
import sys

from avro.datafile import DataFileReader
from avro.io import DatumReader


def fields(schema, path):
    t = schema
    optional = False
    if isinstance(t, list):
        optional = "null" in t
        t = [b for b in t if b != "null"][0]
    if isinstance(t, dict) and t.get("type") == "array":
        if "element-id" in t:
            print("element", path, t["element-id"])
        fields(t["items"], path)
        return
    if isinstance(t, dict) and t.get("type") == "record":
        for f in t["fields"]:
            p = f["name"] if not path else path + "." + f["name"]
            ft = f["type"]
            opt = isinstance(ft, list) and "null" in ft
            print("field", p, f.get("field-id", "-"), "optional" if opt else "required")
            fields(ft, p)


def plain(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def main():
    with open(sys.argv[1], "rb") as f:
        reader = DataFileReader(f, DatumReader())
        for k in sorted(reader.meta):
            if k in ("avro.schema",):
                continue
            print("meta", k, reader.meta[k].decode())
        schema = json.loads(reader.meta["avro.schema"].decode())
        print("schema-name", schema["name"])
        fields(schema, "")
        for rec in reader:
            print("record", json.dumps(plain(rec), sort_keys=True))
        reader.close()


if __name__ == "__main__":
    main()
