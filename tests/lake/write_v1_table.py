#!/usr/bin/python3
"""Writes a small Iceberg format-v1 table with python3-avro, as another engine would have:
v1 manifest list and manifest schemas (added_data_files_count, required snapshot_id,
block_size_in_bytes, no content or sequence numbers), deflate codec, v1 metadata JSON.

usage: write_v1_table.py <table-folder>   (prints the metadata file path)
"""
import json
import os
import struct
import sys

import avro.schema
from avro.datafile import DataFileWriter
from avro.io import DatumWriter


def opt(name, typ, fid):
    return {"name": name, "type": ["null", typ], "default": None, "field-id": fid}


def kv(name, k, v, vt):
    return {"type": "array", "logicalType": "map",
            "items": {"type": "record", "name": "k%d_v%d" % (k, v),
                      "fields": [{"name": "key", "type": "int", "field-id": k},
                                 {"name": "value", "type": vt, "field-id": v}]}}


TABLE_SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "x", "required": True, "type": "long"},
    {"id": 2, "name": "y", "required": False, "type": "string"}]}
SPEC = [{"name": "x_trunc", "transform": "truncate[10]", "source-id": 1, "field-id": 1000}]

ENTRY = {"type": "record", "name": "manifest_entry", "fields": [
    {"name": "status", "type": "int", "field-id": 0},
    {"name": "snapshot_id", "type": "long", "field-id": 1},
    {"name": "data_file", "field-id": 2, "type": {"type": "record", "name": "r2", "fields": [
        {"name": "file_path", "type": "string", "field-id": 100},
        {"name": "file_format", "type": "string", "field-id": 101},
        {"name": "partition", "field-id": 102, "type": {"type": "record", "name": "r102",
            "fields": [opt("x_trunc", "long", 1000)]}},
        {"name": "record_count", "type": "long", "field-id": 103},
        {"name": "file_size_in_bytes", "type": "long", "field-id": 104},
        {"name": "block_size_in_bytes", "type": "long", "field-id": 105},
        opt("column_sizes", kv("column_sizes", 117, 118, "long"), 108),
        opt("value_counts", kv("value_counts", 119, 120, "long"), 109),
        opt("null_value_counts", kv("null_value_counts", 121, 122, "long"), 110),
        opt("lower_bounds", kv("lower_bounds", 126, 127, "bytes"), 125),
        opt("upper_bounds", kv("upper_bounds", 129, 130, "bytes"), 128),
        opt("key_metadata", "bytes", 131),
        opt("split_offsets", {"type": "array", "items": "long", "element-id": 133}, 132)]}}]}

LIST = {"type": "record", "name": "manifest_file", "fields": [
    {"name": "manifest_path", "type": "string", "field-id": 500},
    {"name": "manifest_length", "type": "long", "field-id": 501},
    {"name": "partition_spec_id", "type": "int", "field-id": 502},
    {"name": "added_snapshot_id", "type": ["null", "long"], "default": None, "field-id": 503},
    opt("added_data_files_count", "int", 504),
    opt("existing_data_files_count", "int", 505),
    opt("deleted_data_files_count", "int", 506),
    opt("partitions", {"type": "array", "element-id": 508, "items": {
        "type": "record", "name": "r508", "fields": [
            {"name": "contains_null", "type": "boolean", "field-id": 509},
            opt("lower_bound", "bytes", 510), opt("upper_bound", "bytes", 511)]}}, 507),
    opt("added_rows_count", "long", 512),
    opt("existing_rows_count", "long", 513),
    opt("deleted_rows_count", "long", 514)]}

SNAPSHOT = 5171281231002417239


def write(path, schema, records, meta):
    with open(path, "wb") as f:
        w = DataFileWriter(f, DatumWriter(), avro.schema.parse(json.dumps(schema)), codec="deflate")
        for k, v in meta.items():
            w.set_meta(k, v.encode())
        for r in records:
            w.append(r)
        w.close()


def le64(v):
    return struct.pack("<q", v)


def main():
    root = os.path.abspath(sys.argv[1])
    os.makedirs(root + "/metadata", exist_ok=True)
    files = []
    for i, (lo, hi) in enumerate([(1, 9), (10, 19)]):
        files.append({"status": 1, "snapshot_id": SNAPSHOT, "data_file": {
            "file_path": "file:%s/data/f%d.parquet" % (root, i), "file_format": "PARQUET",
            "partition": {"x_trunc": lo - lo % 10}, "record_count": 100 + i,
            "file_size_in_bytes": 4096, "block_size_in_bytes": 67108864,
            "column_sizes": None, "value_counts": [{"key": 1, "value": 100 + i}],
            "null_value_counts": [{"key": 1, "value": 0}],
            "lower_bounds": [{"key": 1, "value": le64(lo)}],
            "upper_bounds": [{"key": 1, "value": le64(hi)}],
            "key_metadata": None, "split_offsets": [4]}})
    manifest = root + "/metadata/a1b2-m0.avro"
    write(manifest, ENTRY, files, {"schema": json.dumps(TABLE_SCHEMA),
                                   "partition-spec": json.dumps(SPEC)})
    listing = root + "/metadata/snap-%d-1-a1b2.avro" % SNAPSHOT
    write(listing, LIST, [{
        "manifest_path": manifest, "manifest_length": os.path.getsize(manifest),
        "partition_spec_id": 0, "added_snapshot_id": SNAPSHOT, "added_data_files_count": 2,
        "existing_data_files_count": 0, "deleted_data_files_count": 0,
        "partitions": [{"contains_null": False, "lower_bound": le64(0), "upper_bound": le64(10)}],
        "added_rows_count": 201, "existing_rows_count": 0, "deleted_rows_count": 0}],
        {"snapshot-id": str(SNAPSHOT)})
    meta = {"format-version": 1, "table-uuid": "5d0a9a2d-3c1b-4d3e-8f6a-0b1c2d3e4f50",
            "location": "file:" + root, "last-updated-ms": 1600000000000, "last-column-id": 2,
            "schema": TABLE_SCHEMA, "partition-spec": SPEC, "properties": {"owner": "spark"},
            "current-snapshot-id": SNAPSHOT,
            "snapshots": [{"snapshot-id": SNAPSHOT, "timestamp-ms": 1600000000000,
                           "summary": {"operation": "append", "added-data-files": "2"},
                           "manifest-list": listing}],
            "snapshot-log": [{"snapshot-id": SNAPSHOT, "timestamp-ms": 1600000000000}]}
    path = root + "/metadata/v1.metadata.json"
    with open(path, "w") as f:
        json.dump(meta, f)
    print(path)


if __name__ == "__main__":
    main()
