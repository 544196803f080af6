#!/usr/bin/env python3
"""Measures boto3 KMS GenerateDataKey requests per second against an AWS-protocol endpoint: vaultd's
AWS front end or moto_server, with the same client code. Not run by the tests.

N threads, each with its own boto3 session and client (boto3 clients are thread-safe, but one
client's connection pool would serialise them), first warm up (connections open, key cached) for
--warmup seconds, then all start together and call GenerateDataKey(AES_256) in a loop for --duration
seconds. Prints requests/s, p50 / p99 / max latency and the error count. Retries are off, so an
error counts once and is never hidden by a retry. The loop is bounded in time and in count
(--max-requests), and the endpoint must be a loopback address unless --allow-remote is given.

Against vaultd (the AWS venv of tests/aws/requirements.txt has boto3):

    python3 -m venv /tmp/aws-venv && /tmp/aws-venv/bin/pip install -r tests/aws/requirements.txt
    VAULTD_ROOT_ACCESS_KEY_ID=AKIAEXAMPLEKEY234567 \\
    VAULTD_ROOT_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' \\
      cargo run --release --bin vaultd -- --dev --data-dir /tmp/vaultd-bench --aws-listen 127.0.0.1:4599 &
    AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEY234567 \\
    AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' \\
      /tmp/aws-venv/bin/python tests/aws/bench_generate_data_key.py http://127.0.0.1:4599 --threads 4

Against moto_server, in a venv of its own (moto is not in the test requirements; it pulls its own
boto3, which is fine for a server):

    python3 -m venv /tmp/moto-venv && /tmp/moto-venv/bin/pip install 'moto[server]'
    /tmp/moto-venv/bin/moto_server -H 127.0.0.1 -p 5000 &      # any credentials are accepted
    /tmp/aws-venv/bin/python tests/aws/bench_generate_data_key.py http://127.0.0.1:5000 --threads 4

(moto_server is a single-process development server: compare like with like, same machine, same
threads, and say which of the two ran at the same time as anything else.)

Without --key-id the script creates a symmetric key first. Credentials come from --access-key-id /
--secret-access-key, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, else moto's dummy "testing".
"""

import argparse
import ipaddress
import os
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MAX_DURATION = 600.0


def is_loopback(url):
    host = urlparse(url).hostname or ""
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


def make_client(args):
    session = boto3.session.Session(
        aws_access_key_id=args.access_key_id, aws_secret_access_key=args.secret_access_key,
        region_name=args.region)
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5,
                    read_timeout=30, max_pool_connections=2, tcp_keepalive=True)
    return session.client("kms", endpoint_url=args.endpoint, config=config)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def worker(args, key_id, start, results, lock, budget):
    kms = make_client(args)
    warm_until = time.monotonic() + args.warmup
    while time.monotonic() < warm_until:
        try:
            kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        except (ClientError, BotoCoreError):
            pass
    start.wait()
    stop_at = time.monotonic() + args.duration
    latencies, errors, first_error = [], 0, None
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        t0 = time.perf_counter()
        try:
            kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
            latencies.append(time.perf_counter() - t0)
        except (ClientError, BotoCoreError) as err:
            errors += 1
            first_error = first_error or err
    with lock:
        results.append((latencies, errors, first_error))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint", help="http://HOST:PORT of the AWS-protocol endpoint")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    parser.add_argument("--max-requests", type=int, default=1_000_000,
                        help="stop after this many measured requests in all (default 1000000)")
    parser.add_argument("--key-id", help="an existing symmetric key (default: create one)")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    parser.add_argument("--access-key-id", default=os.environ.get("AWS_ACCESS_KEY_ID") or "testing")
    parser.add_argument("--secret-access-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow an endpoint that is not a loopback address")
    args = parser.parse_args()

    if not 1 <= args.threads <= 256:
        parser.error("--threads must be 1..256")
    if not 0 < args.duration <= MAX_DURATION or not 0 <= args.warmup <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION:.0f}] s and --warmup in [0, {MAX_DURATION:.0f}] s")
    if not args.allow_remote and not is_loopback(args.endpoint):
        parser.error(f"{args.endpoint} is not a loopback address (pass --allow-remote to insist)")

    setup = make_client(args)
    key_id = args.key_id or setup.create_key(Description="GenerateDataKey benchmark")["KeyMetadata"]["KeyId"]
    setup.generate_data_key(KeyId=key_id, KeySpec="AES_256")  # fail early on a bad endpoint or key

    start = threading.Barrier(args.threads + 1)
    results, lock, budget = [], threading.Lock(), [args.max_requests]
    threads = [threading.Thread(target=worker, args=(args, key_id, start, results, lock, budget), daemon=True)
               for _ in range(args.threads)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join(args.warmup + args.duration + 60)
    elapsed = time.monotonic() - t0

    latencies = sorted(x for lat, _, _ in results for x in lat)
    errors = sum(e for _, e, _ in results)
    first_error = next((f for _, _, f in results if f is not None), None)
    ms = 1000.0
    print(f"endpoint      {args.endpoint}")
    print(f"operation     GenerateDataKey(AES_256), key {key_id}")
    print(f"threads       {args.threads} (one boto3 client each), warm-up {args.warmup:g} s, "
          f"measured {elapsed:.2f} s")
    print(f"requests      {len(latencies)} ok, {errors} errors")
    print(f"throughput    {len(latencies) / elapsed:.1f} requests/s")
    if latencies:
        print(f"latency       p50 {percentile(latencies, 0.50) * ms:.2f} ms, "
              f"p99 {percentile(latencies, 0.99) * ms:.2f} ms, max {latencies[-1] * ms:.2f} ms, "
              f"mean {statistics.fmean(latencies) * ms:.2f} ms")
    if first_error is not None:
        print(f"first error   {first_error}")
    return 1 if errors and not latencies else 0


if __name__ == "__main__":
    sys.exit(main())
