#!/bin/sh
# One-shot set-up of the local stack's MinIO: the export and receipt buckets, and one sample export
# for the local-sftp partner. Safe to run again: the same bytes give the same ETag, so Ferry sees the
# same object version and does not deliver it twice.
set -eu
mc alias set local "$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" --api S3v4 >/dev/null
tries=0
until mc ls local >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "minio-init: MinIO at $S3_ENDPOINT did not answer in 60 s" >&2
    exit 1
  fi
  sleep 1
done
mc mb --ignore-existing local/warehouse-exports local/ferry-audit
printf 'order_id,sku,qty,amount\n1001,SKU-7,2,19.90\n1002,SKU-3,1,4.50\n' \
  | mc pipe local/warehouse-exports/local-sftp/orders_sample.csv
echo "minio-init: buckets warehouse-exports and ferry-audit ready; sample export at local-sftp/orders_sample.csv"
