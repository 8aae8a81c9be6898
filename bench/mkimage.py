#!/usr/bin/env python3
"""Writes an OCI image layout of LAYERS layers, each one file of MB megabytes
of random data, compressed with gzip -1 or zstd -3, for the pull benchmark.

Random data does not compress, so the bytes pulled are the bytes unpacked;
both compressors then store it nearly as is, so decoding costs little.
`--fill hex` writes hex text instead, which compresses about 2:1 and makes
the decoder work.

    python3 bench/mkimage.py DIR gzip|zstd [--layers 5] [--mb 40] [--fill hex]

Prints the total compressed size in bytes (what a pull downloads), then the
total uncompressed (tar) size.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
# Fast settings: the image is made once per run, and the level changes
# nothing about random data except how long making it takes.
COMPRESS = {"gzip": ["gzip", "-1", "-c"], "zstd": ["zstd", "-3", "-q", "-c"]}
CHUNK = 1 << 20


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                return h.hexdigest()
            h.update(b)


def store(blobs, path):
    """Moves `path` into the layout's blobs; returns (digest, size)."""
    hexd = sha256_file(path)
    size = os.path.getsize(path)
    shutil.move(path, os.path.join(blobs, hexd))
    return "sha256:" + hexd, size


def store_json(blobs, obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, hexd), "wb") as f:
        f.write(data)
    return "sha256:" + hexd, len(data)


def fill(f, mb, kind):
    if kind == "random":
        for _ in range(mb):
            f.write(os.urandom(CHUNK))
        return
    # Hex text: about 2:1 for both compressors, so the decoder does real
    # work (Huffman or FSE codes for every byte) instead of copying the
    # stored blocks random data gets.
    for _ in range(mb):
        f.write(os.urandom(CHUNK // 2).hex().encode())


def make_layer(tmp, blobs, index, mb, comp, kind):
    data = os.path.join(tmp, "data")
    with open(data, "wb") as f:
        fill(f, mb, kind)
    tar_path = os.path.join(tmp, "layer.tar")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as t:
        info = t.gettarinfo(data, arcname=f"bench/layer{index}.bin")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        with open(data, "rb") as f:
            t.addfile(info, f)
    os.unlink(data)
    diff_id = "sha256:" + sha256_file(tar_path)
    tar_size = os.path.getsize(tar_path)
    out = os.path.join(tmp, "layer.blob")
    with open(tar_path, "rb") as src, open(out, "wb") as dst:
        subprocess.run(COMPRESS[comp], stdin=src, stdout=dst, check=True)
    os.unlink(tar_path)
    digest, size = store(blobs, out)
    return diff_id, tar_size, {"mediaType": MEDIA[comp], "digest": digest, "size": size}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("compression", choices=sorted(MEDIA))
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--mb", type=int, default=40)
    p.add_argument("--fill", choices=["random", "hex"], default="random")
    p.add_argument("--tag", default="latest")
    a = p.parse_args()

    blobs = os.path.join(a.dir, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    diff_ids, layers, tar_bytes = [], [], 0
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        for i in range(a.layers):
            d, n, l = make_layer(tmp, blobs, i, a.mb, a.compression, a.fill)
            tar_bytes += n
            diff_ids.append(d)
            layers.append(l)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"bench layer {i}"} for i in range(a.layers)],
    }
    cdigest, csize = store_json(blobs, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cdigest,
            "size": csize,
        },
        "layers": layers,
    }
    mdigest, msize = store_json(blobs, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": msize,
                "annotations": {"org.opencontainers.image.ref.name": a.tag},
            }
        ],
    }
    with open(os.path.join(a.dir, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.dir, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(sum(l["size"] for l in layers), tar_bytes)


if __name__ == "__main__":
    main()
