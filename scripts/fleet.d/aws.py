"""The fleet's AWS side in moto, with boto3 from the moto venv.

  aws.py setup NAME   creates the bucket, the table (pk/sk strings, on demand) and the key
                      secret ({"keys": []}) as tests/api/support/moto.rs does
  aws.py audit NAME   prints JSON: the photo ids in S3 and in DynamoDB, and what one lacks
"""
import json
import sys

import os

import boto3


def clients():
    # botocore reads AWS_DEFAULT_REGION, the SDK AWS_REGION: pass the one scripts/moto.sh sets.
    c = lambda svc: boto3.client(svc, region_name=os.environ["AWS_REGION"])  # noqa: E731
    return c("s3"), c("dynamodb"), c("secretsmanager")


def setup(name):
    s3, db, sm = clients()
    s3.create_bucket(Bucket=name)
    db.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sm.create_secret(Name=name, SecretString=json.dumps({"keys": []}))


def audit(name):
    s3, db, _ = clients()
    objects = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix="photos/"):
        for o in page.get("Contents", []):
            pid = o["Key"][len("photos/"):]
            if pid != "readiness-probe":
                objects.add(pid)
    items = {}
    for page in db.get_paginator("scan").paginate(TableName=name):
        for it in page["Items"]:
            pk, sk = it["pk"]["S"], it["sk"]["S"]
            if pk.startswith("OWNER#") and sk.startswith("PHOTO#"):
                items[sk[len("PHOTO#"):]] = pk[len("OWNER#"):]
    uploads = s3.list_multipart_uploads(Bucket=name).get("Uploads", [])
    print(json.dumps({
        "objects": sorted(objects),
        "items": items,
        "objects_without_item": sorted(objects - set(items)),
        "items_without_object": sorted(set(items) - objects),
        "open_multipart_uploads": len(uploads),
    }))


if __name__ == "__main__":
    {"setup": setup, "audit": audit}[sys.argv[1]](sys.argv[2])
