"""The object store published units live in: ``file://DIR`` or ``s3://bucket[/prefix]`` (R2 via an endpoint)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_STORE = "file://.ops/objects"


class StoreError(Exception):
    """An object could not be written, read or removed (FM-08 on the publish path)."""


def object_key(domain: str, type_: str, slug: str, version: str) -> str:
    return f"units/{domain}/{type_}/{slug}/{version}.yaml"


class FileStore:
    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StoreError(f"object key {key!r} escapes the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half an object
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot write {key}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot remove {key}: {exc.strerror or exc}") from exc


class S3Store:
    """S3-compatible storage through boto3 (Cloudflare R2: pass its endpoint URL)."""

    def __init__(self, bucket: str, prefix: str, url: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix, self.url = bucket, prefix.strip("/"), url
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "auto",
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20,
                          s3={"addressing_style": "path"}))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                   ContentType="application/yaml")
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{self.url}: cannot write {key}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StoreError(f"{self.url}: cannot read {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{self.url}: cannot read {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{self.url}: cannot remove {key}: {exc}") from exc


def open_store(url: str | None = None, *, endpoint_url: str | None = None):
    url = url or os.environ.get("STRATT_STORE") or DEFAULT_STORE
    parsed = urlparse(url)
    if parsed.scheme == "file":
        root = Path((parsed.netloc or "") + parsed.path).expanduser()
        return FileStore(root if root.is_absolute() else Path.cwd() / root, url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"{url}: expected s3://bucket[/prefix]")
        endpoint = endpoint_url or os.environ.get("STRATT_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
        return S3Store(parsed.netloc, parsed.path, url, endpoint)
    raise ValueError(f"{url}: unsupported store (use file://DIR or s3://bucket)")
