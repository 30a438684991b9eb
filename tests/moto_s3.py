"""A local S3 server for location tests: moto's server mode in a subprocess of its own, with IAM
authentication switched on after setup, so wrong credentials are refused as AWS refuses them.

moto accepts any credentials until its INITIAL_NO_AUTH_ACTION_COUNT is reached; setup (an IAM user
with an access key and an s3:* policy, the bucket) runs before that, then `/moto-api/reset-auth`
sets the count to 0 and every later request must be signed with the user's real key. A subprocess,
not ThreadedMotoServer: that setting is global to moto's module, and the stack's subprocesses
(uvicorn, RQ workers) reach it over HTTP like any endpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from veloweb.processes import free_port

S3_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass
class S3Server:
    url: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    log_path: Path

    def client(self, access_key_id=None, secret_access_key=None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def location_fields(self, **overrides) -> dict:
        """StorageLocation fields of this bucket with the working credentials."""
        return {
            "provider": "s3",
            "bucket": self.bucket,
            "endpoint_url": self.url,
            "region": "us-east-1",
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            **overrides,
        }


def start_s3_server(log_path, bucket: str = "veloweb-locations") -> tuple[subprocess.Popen, S3Server]:
    """Start the server, create the user, key, policy and bucket, then switch authentication on."""
    import boto3

    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process by stop_s3_server
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_s3_server(proc)
                raise RuntimeError(f"moto server did not start; see {log_path}") from None
            time.sleep(0.1)
    setup = {"endpoint_url": url, "region_name": "us-east-1"}
    setup |= {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="veloweb")
    key = iam.create_access_key(UserName="veloweb")["AccessKey"]
    iam.put_user_policy(UserName="veloweb", PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
    boto3.client("s3", **setup).create_bucket(Bucket=bucket)
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=5).close()
    return proc, S3Server(url, bucket, key["AccessKeyId"], key["SecretAccessKey"], Path(log_path))


def stop_s3_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    proc.log.close()
