"""A run uploaded in parts with SHA-256 checksums (aws s3 cp, boto3 upload_file on a big
Inspect log) carries a composite checksum, `<base64>-<parts>`: a digest of the parts'
digests, not of the object. It was compared with the object's own SHA-256, so every such
candidate was refused as "checksum mismatch on download (the object or the transfer is
corrupt)", exit 74.
"""

from __future__ import annotations

import io

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")

MiB = 1024 * 1024


def test_a_candidate_uploaded_in_parts_with_sha256_checksums_is_gated(s3_uri: str) -> None:
    from boto3.s3.transfer import TransferConfig

    from evalsig_flows.flows import gate_flow
    from evalsig_flows.s3 import S3Store
    from evalsig_flows.store import open_store

    store = open_store(s3_uri)
    assert isinstance(store, S3Store)
    data = (EXAMPLES / "candidate.json").read_bytes() + b" " * (11 * MiB)  # valid JSON
    key = f"{store.prefix}/incoming/big.json"
    store.client().upload_fileobj(io.BytesIO(data), store.bucket, key,
                                  ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                                  Config=TransferConfig(multipart_threshold=5 * MiB,
                                                        multipart_chunksize=5 * MiB))
    head = store.client().head_object(Bucket=store.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].endswith("-3")  # composite: 3 parts
    assert store.get("incoming/big.json") == data
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=f"{s3_uri}/incoming/big.json", metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store=s3_uri, name="multipart",
                      return_state=True)
    assert state.is_completed(), state.message
