#!/usr/bin/env python3
"""Validates JSON documents against a JSON Schema (draft 2020-12).

Usage: validate_json.py SCHEMA_FILE DOCUMENT_FILE
DOCUMENT_FILE holds one JSON document per line (JSON Lines); every line is
checked. Exit status 0 when all are valid, 1 with each error on stderr,
2 on a usage error. Uses Debian's python3-jsonschema (scripts/setup).
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as schema_file:
        schema = json.load(schema_file)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    checked = 0
    with open(argv[2], encoding="utf-8") as documents:
        for number, line in enumerate(documents, start=1):
            if not line.strip():
                continue
            checked += 1
            try:
                document = json.loads(line)
            except json.JSONDecodeError as error:
                print(f"line {number}: not JSON: {error}", file=sys.stderr)
                failures += 1
                continue
            for error in validator.iter_errors(document):
                path = "/".join(str(part) for part in error.absolute_path)
                print(f"line {number}: at '{path}': {error.message}",
                      file=sys.stderr)
                failures += 1
    if checked == 0:
        print("no document to check", file=sys.stderr)
        return 1
    print(f"{checked} document(s) checked, {failures} error(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
